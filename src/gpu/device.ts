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
    void device.lost.then((info) => {
      // Our own destroy() is a shutdown, not a fault.
      if (this.destroyed || info.reason === 'destroyed') return;
      this.fault ??= `GPU device lost (${info.reason}): ${info.message.replace(/\s+/g, ' ').trim()}; restart the program (or reload the page)`;
    });
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
    if (this.fault) throw new WafermeshError('gpu-error', this.fault);
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
