import { nodeGpu } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/device.ts';

let shared: Promise<GpuContext> | undefined;

/**
 * The test file's GPU device on the software driver. There is no skip: if no adapter can be had
 * the test fails with the one-line reason (which drivers were tried and how to install one).
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= nodeGpu();
  return shared;
}
