import { CATALOG, hardwarePreset, presetSources, type Catalog } from '../catalog.ts';
import { meshPreset } from '../mesh/config.ts';

/**
 * The presets as the cost model reads them (numbers; the figures and their sources live in the
 * catalog, src/catalog.ts), and energy per operation for both machines. Every number says where
 * it comes from; the ones marked "assumption" are ours and printed by `predict`.
 */
export interface GpuHardware {
  readonly name: string;
  readonly description: string;
  readonly hbmBytes: number; // off-chip memory per chip
  /** Off-chip bandwidth per chip the model streams at: the measured sustained figure where the preset has one, the datasheet peak otherwise. */
  readonly hbmBytesPerS: number;
  readonly peakHbmBytesPerS: number; // the datasheet's peak
  /** Which figure `hbmBytesPerS` is, and its source. */
  readonly hbmBandwidth: { readonly kind: 'sustained' | 'peak'; readonly source: string };
  readonly l2Bytes: number;
  readonly peakFlops: { readonly fp32: number; readonly fp16: number; readonly fp8: number }; // dense, per chip
  readonly launchSeconds: number; // per kernel: a node of a replayed graph (or an eager launch)
  readonly graphLaunchSeconds: number; // once per token: replaying the captured graph (0 without one)
  readonly linkBytesPerS: number; // chip-to-chip, per direction per chip (NVLink via NVSwitch)
  readonly allreduceSeconds: number; // fixed latency of one small-message allreduce between the chips
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

/**
 * A GPU preset of the catalog, as numbers. Its kernels stream from HBM at the sustained bandwidth
 * measured on that GPU where the catalog has one (`sustainedHbmBytesPerS`), at the datasheet's
 * peak otherwise; `hbmBandwidth` says which.
 */
export function gpuPreset(name: string, catalog: Catalog = CATALOG): GpuHardware {
  const p = hardwarePreset(name, 'gpu', catalog);
  const f = p.figures;
  return {
    name: p.id,
    description: p.description,
    hbmBytes: f.hbmBytes.value,
    hbmBytesPerS: (f.sustainedHbmBytesPerS ?? f.hbmBytesPerS).value,
    peakHbmBytesPerS: f.hbmBytesPerS.value,
    hbmBandwidth: f.sustainedHbmBytesPerS ? { kind: 'sustained', source: f.sustainedHbmBytesPerS.source } : { kind: 'peak', source: f.hbmBytesPerS.source },
    l2Bytes: f.l2Bytes.value,
    peakFlops: { fp32: f.fp32Flops.value, fp16: f.fp16Flops.value, fp8: f.fp8Flops.value },
    launchSeconds: f.launchSeconds.value,
    graphLaunchSeconds: f.graphLaunchSeconds.value,
    linkBytesPerS: f.linkBytesPerS.value,
    allreduceSeconds: f.allreduceSeconds.value,
    sources: presetSources(p),
  };
}

/** The wafer presets with their whole-wafer figures for `predict`. */
export function waferPreset(name: string, catalog: Catalog = CATALOG) {
  const p = meshPreset(name, catalog);
  return { ...p, cores: p.fullWidth * p.fullHeight };
}
