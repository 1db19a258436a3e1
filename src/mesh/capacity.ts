// What bounds the mesh a WebGPU device can emulate (read by the mesh engine and `info`).

/** The largest buffer one band may use on this device. */
export function bandLimit(limits: GPUSupportedLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/**
 * What bounds the mesh this device can emulate at `sramBytes` per core. The SRAM is split into
 * bands of rows, so one binding bounds only a row (`widestRow`); the whole mesh is bounded by the
 * memory the driver gives, which WebGPU does not report. `hostMemoryBytes` (a CPU driver, whose GPU
 * memory is the host's) turns that into cores: the emulated SRAM and the host's copy of the image
 * it is loaded from, both in that memory — a ceiling, as the route tables and link registers come
 * on top.
 */
export function meshCapacity(limits: GPUSupportedLimits, sramBytes: number, hostMemoryBytes?: number) {
  const perBuffer = bandLimit(limits);
  const widestRow = Math.floor(perBuffer / sramBytes);
  const cores = hostMemoryBytes === undefined ? undefined : Math.floor(hostMemoryBytes / (2 * sramBytes));
  const side = cores === undefined ? undefined : Math.min(Math.floor(Math.sqrt(cores)), widestRow);
  return { perBufferBytes: perBuffer, widestRow, cores, square: side === undefined ? undefined : `${side}x${side}` };
}
