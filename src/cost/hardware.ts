import { WafermeshError } from '../errors.ts';
import { meshPreset } from '../mesh/config.ts';

/**
 * The two machines' presets: a conventional GPU (weights in off-chip HBM) and the wafer's core
 * (in src/mesh/config.ts). Energy per operation for both. Every number says where it comes from;
 * the ones marked "assumption" are ours and printed by `predict`.
 */
export interface GpuHardware {
  readonly name: string;
  readonly description: string;
  readonly hbmBytes: number; // off-chip memory per chip
  readonly hbmBytesPerS: number; // off-chip bandwidth per chip
  readonly l2Bytes: number;
  readonly peakFlops: { readonly fp32: number; readonly fp16: number; readonly fp8: number }; // dense, per chip
  readonly launchSeconds: number; // per kernel launch (assumption)
  readonly linkBytesPerS: number; // chip-to-chip, per direction (NVLink)
  readonly linkLatencySeconds: number; // per collective step between chips (assumption)
  readonly sources: string;
}

export interface EnergyCosts {
  readonly pjPerFlop: number;
  readonly pjPerSramByte: number; // on-chip SRAM read
  readonly pjPerHbmByte: number; // off-chip DRAM read
  readonly pjPerWordHop: number; // one 32-bit word across one mesh link
  readonly sources: string;
}

export const ENERGY: EnergyCosts = {
  pjPerFlop: 0.5,
  pjPerSramByte: 0.3,
  pjPerHbmByte: 31,
  pjPerWordHop: 2,
  sources:
    'FLOP and SRAM: Horowitz, "Computing\'s energy problem", ISSCC 2014 (45 nm: f32 multiply 3.7 pJ + add 0.9 pJ; ' +
    '8 KB SRAM 64-bit read 10 pJ), scaled to 5 nm by us (assumption: ~5x less); HBM: O\'Connor et al., ' +
    '"Fine-grained DRAM", MICRO 2017 (HBM2 3.9 pJ/bit = 31 pJ/byte); mesh hop: on-chip wires ~0.1 pJ/bit/mm ' +
    '(Dally) over a ~0.23 mm core pitch (46,225 mm² / 900,000 cores, seed table) plus the router: ~2 pJ per 32-bit word (assumption).',
};

export const GPU_PRESETS: readonly GpuHardware[] = [
  {
    name: 'h100',
    description: 'NVIDIA H100 SXM: 80 GB HBM3 at 3.35 TB/s, 50 MB L2',
    hbmBytes: 80e9,
    hbmBytesPerS: 3.35e12,
    l2Bytes: 50e6,
    peakFlops: { fp32: 67e12, fp16: 989e12, fp8: 1979e12 },
    launchSeconds: 3e-6,
    linkBytesPerS: 450e9,
    linkLatencySeconds: 2e-6,
    sources:
      '3.35 TB/s and 50 MB: the seed article\'s spec table; 80 GB HBM3, 989 TFLOPS dense BF16, 1,979 dense FP8, ' +
      '67 FP32, NVLink 900 GB/s (450 each way): NVIDIA H100 datasheet; 3 µs per kernel launch and 2 µs per ' +
      'NVLink collective step: assumptions (typical measured launch overheads are 2–5 µs without CUDA graphs).',
  },
  {
    name: 'toy-gpu',
    description: 'the H100 scaled down 16,000x for the toy models (bandwidth, FLOPs, memory, L2), launch latency kept',
    hbmBytes: 80e9 / 16000,
    hbmBytesPerS: 3.35e12 / 16000,
    l2Bytes: 50e6 / 16000,
    peakFlops: { fp32: 67e12 / 16000, fp16: 989e12 / 16000, fp8: 1979e12 / 16000 },
    launchSeconds: 3e-6,
    linkBytesPerS: 450e9 / 16000,
    linkLatencySeconds: 2e-6,
    sources: 'h100 ÷ 16,000 (see the README\'s paragraph on the scaled-down pair)',
  },
];

export function gpuPreset(name: string): GpuHardware {
  const p = GPU_PRESETS.find((g) => g.name === name.toLowerCase());
  if (!p) throw new WafermeshError('unknown-hardware', `GPU preset "${name}" is unknown; use one of ${GPU_PRESETS.map((g) => g.name).join(', ')}`);
  return p;
}

/** The wafer presets with their whole-wafer figures for `predict`. */
export function waferPreset(name: string) {
  const p = meshPreset(name);
  return {
    ...p,
    // The seed table: 44 GB of SRAM, 21 PB/s of memory bandwidth, 125 PFLOPS, 900,000 cores.
    cores: p.fullWidth * p.fullHeight,
    waferToWaferSeconds: 5e-6, // assumption: one activation hand-off between wafers (network hop + I/O)
  };
}
