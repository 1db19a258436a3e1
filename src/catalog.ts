import { WafermeshError } from './errors.ts';
import { makeConfig, type ModelConfig } from './model/config.ts';

/**
 * The catalog: every hardware preset, algorithm and model wafermesh knows, as data. The CLI (its
 * choices and help), `predict`, the mesh and cost code and the demo (served by its worker) all read
 * their lists from here, so adding a preset is one entry in `CATALOG.hardware`.
 *
 * Every hardware figure is {value, source, assumed?}: `assumed` marks what we had to choose
 * ourselves, and `predict` prints it as such.
 */
export interface Figure {
  readonly value: number;
  readonly source: string;
  readonly assumed?: boolean;
}

const fig = (value: number, source: string, assumed = false): Figure => (assumed ? { value, source, assumed } : { value, source });

/** One core of a wafer (the mesh preset: the emulated mesh's size is set per run). */
export interface WaferFigures {
  readonly sramBytes: Figure; // private SRAM per core
  readonly clockHz: Figure;
  readonly wordsPerLinkCycle: Figure; // 32-bit words a link carries per cycle, each direction
  readonly cyclesPerHop: Figure; // router + wire latency of one hop (α)
  readonly cyclesPerRamp: Figure; // a word down the ramp into the core, added or stored, and on (β)
  readonly flopsPerCoreCycle: Figure; // f32 FLOPs one core retires per cycle
  readonly fullWidth: Figure; // the whole wafer's fabric, for predict
  readonly fullHeight: Figure;
  readonly waferToWaferSeconds: Figure; // one activation hand-off between chained wafers
  readonly colours: Figure; // routable colours (virtual channels) per router
}

export interface GpuFigures {
  readonly hbmBytes: Figure; // off-chip memory per chip
  readonly hbmBytesPerS: Figure; // off-chip bandwidth per chip
  readonly l2Bytes: Figure;
  readonly fp32Flops: Figure; // dense, per chip
  readonly fp16Flops: Figure;
  readonly fp8Flops: Figure;
  readonly launchSeconds: Figure; // per kernel launch
  readonly linkBytesPerS: Figure; // chip-to-chip, per direction (NVLink)
  readonly linkLatencySeconds: Figure; // per collective step between chips
}

export type HardwarePreset =
  | { readonly id: string; readonly kind: 'wafer'; readonly description: string; readonly figures: WaferFigures }
  | { readonly id: string; readonly kind: 'gpu'; readonly description: string; readonly figures: GpuFigures };

export type HardwareKind = HardwarePreset['kind'];

export interface AlgorithmEntry {
  readonly id: string;
  readonly description: string;
}

/** A model the tools know by name: a checkpoint file (runnable) or only a published shape (predict). */
export interface ModelEntry {
  readonly id: string;
  readonly description: string;
  /** Checkpoint path from the project root; absent for shape-only entries. */
  readonly checkpoint?: string;
  /** Tokenizer path from the project root, when the model has one. */
  readonly tokenizer?: string;
  /** The published shape, for models whose weights are not here. */
  readonly config?: ModelConfig;
  /** Served by the demo (its files are under public/). */
  readonly demo: boolean;
}

const SEED = "the seed article's WSE-3 vs H100 spec table (../shared/seed/)";
const SDK = 'Cerebras SDK documentation (fabric, routers, wavelets) and WaferLLM (OSDI 2025) PLMR model';

const RAMP =
  'a word taken off the fabric into the core, added (or stored) and sent on: the SDK and WaferLLM say only that this relay costs far more than a hop (α ≪ β); 8 cycles is our assumption';

const WSE3_CORE = {
  sramBytes: fig(48 * 1024, `48 KB per core: 44 GB over ~900,000 cores (${SEED}); Cerebras' WSE documentation`),
  clockHz: fig(1.1e9, `~1.1 GHz: ${SDK}; not published for the WSE-3 that we found`, true),
  wordsPerLinkCycle: fig(1, `one 32-bit wavelet per link per cycle each way: ${SDK}`),
  cyclesPerHop: fig(1, `about one cycle per hop: ${SDK}`),
  cyclesPerRamp: fig(8, `${RAMP}`, true),
  flopsPerCoreCycle: fig(32, `125 PFLOPS (16-bit, ${SEED}) / 900,000 cores / 1.1 GHz ≈ 126 16-bit FLOP per core-cycle; we assume a quarter, 32, for f32`, true),
  fullWidth: fig(762, "the SDK's WSE-3 fabric is 762 × 1172 (WaferLLM's compile.py)"),
  fullHeight: fig(1172, "the SDK's WSE-3 fabric is 762 × 1172 (WaferLLM's compile.py)"),
  waferToWaferSeconds: fig(5e-6, 'one activation hand-off between wafers (network hop + I/O)', true),
  colours: fig(24, 'Cerebras SDK documentation: 24 routable colours, some reserved by the runtime'),
} satisfies WaferFigures;

const H100 = {
  hbmBytes: fig(80e9, 'NVIDIA H100 SXM datasheet: 80 GB HBM3'),
  hbmBytesPerS: fig(3.35e12, `3.35 TB/s: ${SEED}; NVIDIA H100 datasheet`),
  l2Bytes: fig(50e6, `50 MB: ${SEED}`),
  fp32Flops: fig(67e12, 'NVIDIA H100 SXM datasheet: 67 TFLOPS FP32'),
  fp16Flops: fig(989e12, 'NVIDIA H100 SXM datasheet: 989 TFLOPS dense BF16'),
  fp8Flops: fig(1979e12, 'NVIDIA H100 SXM datasheet: 1,979 TFLOPS dense FP8'),
  launchSeconds: fig(3e-6, 'typical measured kernel-launch overheads are 2–5 µs without CUDA graphs', true),
  linkBytesPerS: fig(450e9, 'NVIDIA H100 datasheet: NVLink 900 GB/s, 450 each way'),
  linkLatencySeconds: fig(2e-6, 'per NVLink collective step', true),
} satisfies GpuFigures;

const scaled = (f: GpuFigures, k: number, why: string): GpuFigures => {
  const s = (x: Figure) => fig(x.value / k, `${why}: ${x.source}`, x.assumed);
  return { ...f, hbmBytes: s(f.hbmBytes), hbmBytesPerS: s(f.hbmBytesPerS), l2Bytes: s(f.l2Bytes), fp32Flops: s(f.fp32Flops), fp16Flops: s(f.fp16Flops), fp8Flops: s(f.fp8Flops), linkBytesPerS: s(f.linkBytesPerS) };
};

export const CATALOG = {
  hardware: [
    {
      id: 'wse-3',
      kind: 'wafer',
      description: 'a Cerebras WSE-3-like core: 48 KB SRAM, 1.1 GHz, one 32-bit word per link per cycle, one cycle per hop',
      figures: WSE3_CORE,
    },
    {
      id: 'wse-3-big-sram',
      kind: 'wafer',
      description: 'the WSE-3 core with 4 MB of SRAM, so whole models fit on tiny meshes (a teaching device, not real hardware)',
      figures: { ...WSE3_CORE, sramBytes: fig(4 * 1024 * 1024, 'the WSE-3 core with its SRAM enlarged on purpose (not real hardware)', true) },
    },
    {
      id: 'wse-2',
      kind: 'wafer',
      description: "a Cerebras WSE-2-like core (the wafer WaferLLM measured): 48 KB SRAM, ~1.1 GHz, the SDK's 757 × 996 fabric",
      figures: {
        sramBytes: fig(48 * 1024, '48 KB per PE, 40 GB in all over ~850,000 cores: WaferLLM (OSDI 2025) and its compile.py; Cerebras WSE-2 documentation'),
        clockHz: fig(1.1e9, "up to ~1.1 GHz: WaferLLM (OSDI 2025); Argonne's ALCF CS-2 user guide"),
        wordsPerLinkCycle: fig(1, `one 32-bit wavelet per link per cycle each way: ${SDK}`),
        cyclesPerHop: fig(1, `about one cycle per hop: ${SDK}`),
        cyclesPerRamp: fig(8, RAMP, true),
        flopsPerCoreCycle: fig(32, 'no per-core rate published that we found: assumed the same as the wse-3 preset', true),
        fullWidth: fig(757, "the SDK's WSE-2 fabric is 757 × 996, ≤ 750 × 994 usable (WaferLLM's compile.py)"),
        fullHeight: fig(996, "the SDK's WSE-2 fabric is 757 × 996, ≤ 750 × 994 usable (WaferLLM's compile.py)"),
        waferToWaferSeconds: WSE3_CORE.waferToWaferSeconds,
        colours: fig(24, 'Cerebras SDK documentation (the SDK targets the WSE-2 and WSE-3 alike): 24 routable colours'),
      },
    },
    { id: 'h100', kind: 'gpu', description: 'NVIDIA H100 SXM: 80 GB HBM3 at 3.35 TB/s, 50 MB L2', figures: H100 },
    {
      id: 'toy-gpu',
      kind: 'gpu',
      description: 'the H100 scaled down 16,000x for the toy models (bandwidth, FLOPs, memory, L2), launch latency kept',
      figures: scaled(H100, 16000, "h100 ÷ 16,000 (the README's scaled-down pair)"),
    },
  ] as HardwarePreset[],
  allreduce: [
    { id: 'chain', description: 'a streamed chain: partial sums flow from both ends of the line to its middle core, each core adding its own as the wavefront passes; the sum is broadcast back' },
    { id: 'ring', description: 'the folded ring 0 2 4 … 5 3 1 (neighbours at most two hops apart): a reduce-scatter then an allgather, 2(N − 1) rounds' },
    { id: 'ktree', description: "WaferLLM's K = 2 tree: groups of about √N cores reduce to their middle core, the group roots to the middle root, then the sum is broadcast back (also: tree)" },
  ] as AlgorithmEntry[],
  models: [
    {
      id: 'wm-stories',
      description: "wafermesh's own tiny Llama, trained on the project's generated children's stories (MIT); with its tokenizer",
      checkpoint: 'public/models/wm-stories.bin',
      tokenizer: 'public/models/wm-stories.tok.bin',
      demo: true,
    },
    {
      id: 'stories260K',
      description: "Karpathy's tinyllamas stories260K (TinyStories, MIT); its tokenizer is not shipped, so ids only",
      checkpoint: '../shared/models/stories260K.bin',
      demo: false,
    },
    {
      id: 'llama-3.1-8b',
      description: "Meta's Llama 3.1 8B (shape from its published config; weights not here: predict only)",
      config: makeConfig({ dim: 4096, hiddenDim: 14336, nLayers: 32, nHeads: 32, nKvHeads: 8, vocabSize: 128256, seqLen: 131072, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-3.1-70b',
      description: "Meta's Llama 3.1 70B (shape from its published config; weights not here: predict only)",
      config: makeConfig({ dim: 8192, hiddenDim: 28672, nLayers: 80, nHeads: 64, nKvHeads: 8, vocabSize: 128256, seqLen: 131072, sharedClassifier: false }),
      demo: false,
    },
  ] as ModelEntry[],
  /** The order of a core's four outgoing links: link id = core * 4 + index. */
  linkOrder: ['east', 'west', 'south', 'north'] as const,
  /** A small random model the demo offers beside the built-ins. */
  demoRandomModel: 'random:dim=64,layers=2,heads=4,kv=2,vocab=256,seq=128',
  defaults: { model: 'wm-stories', wafer: 'wse-3', gpu: 'toy-gpu', allreduce: 'ktree', predictModel: 'llama-3.1-8b', predictHardware: 'wse-3' },
};

export type Catalog = typeof CATALOG;

/** The catalog as plain data (it crosses the worker boundary by structured clone). */
export function catalogData(): Catalog {
  return CATALOG;
}

export function hardwareIds(kind?: HardwareKind, catalog: Catalog = CATALOG): string[] {
  return catalog.hardware.filter((h) => !kind || h.kind === kind).map((h) => h.id);
}

/** A preset by id (case-insensitive), or a one-line refusal listing the ones of that kind. */
export function hardwarePreset<K extends HardwareKind>(id: string, kind?: K, catalog: Catalog = CATALOG): Extract<HardwarePreset, { kind: K }> {
  const p = catalog.hardware.find((h): h is Extract<HardwarePreset, { kind: K }> => h.id === id.toLowerCase() && (!kind || h.kind === kind));
  if (!p) {
    const what = kind === 'wafer' ? 'mesh preset' : kind === 'gpu' ? 'GPU preset' : 'hardware';
    throw new WafermeshError(kind === 'wafer' ? 'unknown-preset' : 'unknown-hardware', `${what} "${id}" is unknown; use one of ${hardwareIds(kind, catalog).join(', ')}`);
  }
  return p;
}

export function allreduceIds(catalog: Catalog = CATALOG): string[] {
  return catalog.allreduce.map((a) => a.id);
}

export function modelEntry(id: string, catalog: Catalog = CATALOG): ModelEntry | undefined {
  return catalog.models.find((m) => m.id.toLowerCase() === id.toLowerCase());
}

/** Models with a checkpoint here (runnable by name). */
export function runnableModels(catalog: Catalog = CATALOG): ModelEntry[] {
  return catalog.models.filter((m) => m.checkpoint);
}

/** Every figure of a preset that is our assumption, as "name: source" lines. */
export function assumedFigures(p: HardwarePreset): string[] {
  return Object.entries(p.figures as unknown as Record<string, Figure>)
    .filter(([, f]) => f.assumed)
    .map(([k, f]) => `${k} = ${f.value}: ${f.source}`);
}

/** The distinct sources of a preset's figures, for one-line citations. */
export function presetSources(p: HardwarePreset): string {
  return [...new Set(Object.values(p.figures as unknown as Record<string, Figure>).map((f) => f.source))].join('; ');
}
