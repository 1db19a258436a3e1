import { WafermeshError } from '../errors.ts';

/** Which Vulkan driver (or browser) gave us the adapter, for headers and `info`. */
export interface DriverInfo {
  /** Short name: "lavapipe", "swiftshader", "system", "browser". */
  name: string;
  /** Where it came from (an ICD file, or the browser's user agent). */
  detail: string;
  /** True for a CPU (software) implementation. */
  software: boolean;
}

/**
 * A device with everything the engines need to report on it. `check()` throws the first
 * uncaptured GPU error or an unexpected device loss, so no error is ever swallowed.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
  readonly driver: DriverInfo;
  readonly features: readonly string[];
  private fault: string | undefined;
  private destroyed = false;
  /**
   * The GPU (instance) the device came from. Dawn in Node tears the instance down when it is
   * garbage-collected, which kills its devices mid-flight; holding it here ties its life to ours.
   */
  private readonly instance: GPU;

  constructor(instance: GPU, device: GPUDevice, adapterInfo: GPUAdapterInfo, driver: DriverInfo) {
    this.instance = instance;
    this.device = device;
    this.adapterInfo = adapterInfo;
    this.driver = driver;
    this.features = [...device.features].sort();
    device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message.replace(/\s+/g, ' ').trim();
      this.fault ??= `GPU error: ${msg}`;
    });
    this.whenLost = device.lost.then((info) => {
      // Our own destroy() is a shutdown, not a fault; any other loss (a driver reset, a device
      // destroyed behind our back, loseDevice()) is one.
      if (this.destroyed) return;
      const why = [info.reason !== 'unknown' ? info.reason : '', info.message.replace(/\s+/g, ' ').trim()].filter(Boolean).join(': ');
      this.lostMessage = `the GPU device was lost${why ? ` (${why})` : ''}`;
      this.fault ??= `${this.lostMessage}; restart the program (or reload the page)`;
      for (const f of this.lostListeners) f(this.lostMessage);
    });
  }

  /** Set once the device was lost other than by destroy(): one line saying so. */
  lostMessage: string | undefined;
  /** Resolves when the device is lost or destroyed (after lostMessage is set). */
  readonly whenLost: Promise<void>;
  private readonly lostListeners: ((message: string) => void)[] = [];

  /** Calls `f` with one line when the device is lost other than by destroy(). */
  onLost(f: (message: string) => void): void {
    this.lostListeners.push(f);
  }

  /**
   * Test hook: loses the device as a fault would, outside destroy() (which is a shutdown): the
   * device is destroyed, every later GPU call fails, and the lost handler reports it as a loss.
   */
  loseDevice(): void {
    this.device.destroy();
  }

  /** One line naming adapter and driver. */
  get adapterName(): string {
    const i = this.adapterInfo;
    const name = i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(' ') || 'unknown adapter';
    return `${name} [${this.driver.name}]`;
  }

  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /** Throws the first uncaptured error or device loss seen so far. */
  check(): void {
    if (this.fault) throw new WafermeshError(this.lostMessage ? 'device-lost' : 'gpu-error', this.fault);
  }

  destroy(): void {
    this.destroyed = true;
    this.device.destroy();
  }
}

/**
 * The one way to get a device, in the browser (navigator.gpu) and in Node (the webgpu package):
 * prefer a high-performance adapter, ask for the adapter's own limits for storage buffers, and
 * enable timestamp queries and f16 where offered.
 */
export async function acquireGpu(gpu: GPU | undefined, driver: DriverInfo): Promise<GpuContext | undefined> {
  if (!gpu) return undefined;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return undefined;
  const wanted: GPUFeatureName[] = ['timestamp-query', 'shader-f16'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'wafermesh',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  return new GpuContext(gpu, device, adapter.info, driver);
}

/** The limits `info` prints, by name. */
export const REPORTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;
