import { WafermeshError } from '../errors.ts';
import { acquireGpu, type GpuContext } from './device.ts';

/** A device in the browser (window or worker) through navigator.gpu. */
export async function browserGpu(): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WafermeshError(
      'no-webgpu',
      'this browser has no WebGPU (navigator.gpu is missing); use a recent Chromium, or start it with --enable-unsafe-webgpu',
    );
  }
  const ua = globalThis.navigator.userAgent;
  const ctx = await acquireGpu(gpu, { name: 'browser', detail: ua, software: false });
  if (!ctx) {
    throw new WafermeshError('no-webgpu', 'navigator.gpu gave no adapter; enable hardware acceleration or start Chromium with --enable-unsafe-webgpu');
  }
  if (/swiftshader|llvmpipe/i.test(`${ctx.adapterInfo.description} ${ctx.adapterInfo.architecture}`)) ctx.driver.software = true;
  return ctx;
}
