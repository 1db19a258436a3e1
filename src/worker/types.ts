import type { FabricTokenCount, MachineCost } from '../cost/model.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import type { ModelConfig } from '../model/config.ts';

/** The catalog of presets, algorithms and models, as the worker serves it (`workerApi.catalog()`). */
export type { Catalog } from '../catalog.ts';

/** What the page asks the worker for. Everything here crosses postMessage (structured clone). */
export interface SessionRequest {
  /** A built-in name ("wm-stories"), a "random:…" spec, or "file" with the bytes below. */
  model: string;
  checkpoint?: ArrayBuffer;
  tokenizer?: ArrayBuffer;
  /** Where built-in model files are served from (the page's models/ folder). */
  modelBaseUrl: string;
  mesh: { width: number; height: number };
  /** A wafer preset id of the catalog. */
  preset: string;
  /** An allreduce id of the catalog. */
  allreduce: Allreduce;
  prompt: string;
  tokens: number;
  temperature: number;
  topP: number;
  seed: number;
  /**
   * 'disaggregated': the GPU baseline prefills the prompt (batched), hands its KV cache to the
   * wafer (in at its west edge, over the fabric) and the wafer decodes; absent or 'monolithic':
   * each machine prefills its own prompt (the GPU batched, the wafer token by token) and decodes.
   */
  serving?: ServingMode;
  /**
   * How the model is laid out on the wafer, as the CLI's `--placement` takes it: 'whole' (every
   * layer tiled over the whole mesh; absent means this) or 'pipelined' / 'pipelined:G' (G layers a
   * block of the mesh, the blocks in snake order; without G the fewest that fit). The pipelined
   * placement runs with the monolithic serving mode only (the KV hand-off is the whole mesh's).
   */
  placement?: string;
}

/** How the race runs the prompt: each machine alone, or the GPU's prefill handed to the wafer. */
export type ServingMode = 'monolithic' | 'disaggregated';

export interface FitReport {
  fits: boolean;
  width: number;
  height: number;
  sramBytes: number;
  /** Per core, row-major: words of weights, KV cache (allocated) and scratch. */
  weightWords: Float32Array;
  kvWords: Float32Array;
  scratchWords: Float32Array;
  context: number;
  seqLen: number;
  fullest: { row: number; col: number; bytes: number };
  smallestFittingMesh: string | null;
  /** The one-line refusal when it does not fit. */
  error: string | null;
  /**
   * Which tile of the weights each core holds: core (r, c) holds rows `rows[kind][r]` × columns
   * `cols[kind][c]` of every matrix whose output is `kind` and input the column kind (e.g. wq:
   * rows dim × columns dim; w2: rows dim × columns hidden). Ranges are [lo, hi), a column's may be
   * several runs (attention is split by head and RoPE pair). Absent from older workers.
   */
  tiles?: {
    rows: Record<'dim' | 'kv' | 'hidden' | 'vocab', [number, number][]>;
    cols: Record<'dim' | 'kv' | 'hidden', [number, number][][]>;
  };
  /** The placement shown: 'whole', or 'pipelined:G' with G the layers a block (absent from older workers: whole). */
  placement?: string;
  /**
   * The layer-pipelined placement's blocks (absent for whole): each block is tiled as a mesh of
   * width × height cores, so `tiles` then holds a block's map (core (r, c) of the mesh is core
   * (r − y, c − x) of its block).
   */
  pipeline?: PipelineReport;
}

/** The blocks of a layer-pipelined placement, as the fit report shows them. */
export interface PipelineReport {
  layersPerBlock: number;
  /** A block's cores across and down. */
  width: number;
  height: number;
  /** The grid of blocks: blocks across and down (snake order: down the first column of blocks, up the next). */
  across: number;
  down: number;
  blocks: {
    /** The mesh column and row of its north-west core. */
    x: number;
    y: number;
    /** Its layers: [layerFirst, layerFirst + layerCount). */
    layerFirst: number;
    layerCount: number;
    /** 'embedding', 'head', 'embedding, head' or 'layers'. */
    role: string;
    fits: boolean;
    /** Positions its KV cache holds (0 when it does not fit). */
    context: number;
    /** Its fullest core, in mesh coordinates. */
    fullest: { row: number; col: number; bytes: number };
  }[];
  /** Per mesh core, row-major: the block holding it, −1 for a core outside every block (unused). */
  blockOf: Int16Array;
}

/**
 * A phase of what "step one phase" walks: a step of the decode on the fabric, either a compute
 * pass (`kind` 'compute', named by its entry point; a core touches only its own SRAM) or a fabric
 * phase ('transfer'; words move neighbour to neighbour).
 */
export interface PhaseInfo {
  /** The phase's index in the fabric decode's steps. */
  index: number;
  /** The step that runs it (0 … SessionInfo.passes - 1; equal to `index`). */
  pass: number;
  name: string;
  kind: 'compute' | 'transfer';
  layer: number | null;
  /** What it does, in one line. */
  caption: string;
}

export interface SessionInfo {
  modelName: string;
  config: ModelConfig;
  describe: string;
  hasTokenizer: boolean;
  promptText: string;
  /**
   * 'webgpu' when the mesh and GPU engines run: the wafer pane's link counts are measured by the
   * fabric shader where the words move. 'cpu' when WebGPU is missing: the CPU reference decodes
   * both panes, and the wafer's link counts are the fabric decode's closed form (modelled).
   */
  mode: 'webgpu' | 'cpu';
  adapter: string | null;
  noWebgpuReason: string | null;
  fit: FitReport;
  /**
   * Why the race cannot run, in one line starting with its code: the fit report's refusal when
   * the model does not fit, or the mesh engine's when it refuses the mesh (e.g. mesh-too-large for
   * this adapter); null when it runs. The session opens either way and refuses to step.
   */
  refusal: string | null;
  /** The phases "step one phase" walks, in order. */
  phases: PhaseInfo[];
  /** Steps per token: the fabric decode's compute passes and fabric phases (0 when the race cannot run). */
  passes: number;
  /** The GPU baseline's kernels, in order, with their bytes. */
  gpuKernels: { name: string; layer: number | null; weightBytes: number; launch: boolean }[];
  presetClockHz: number;
  gpuPresetName: string;
  /** How the race runs the prompt (absent from older workers: monolithic). */
  serving?: ServingMode;
  /** Prompt positions, BOS included (P): what each prefill runs. */
  promptPositions?: number;
}

/** One machine's prefill: the prompt's P positions up to the logits of the first generated id. */
export interface PrefillStat {
  positions: number;
  how: 'batched' | 'token by token';
  /** Modelled at the preset hardware (`modelledHardware`): seconds to the first id, its time to first token. */
  modelledSeconds: number;
  modelledHardware: string;
  /** Measured wall clock on this machine's driver (warm-up excluded); null when the prompt was stepped phase by phase by hand. */
  wallMs: number | null;
}

/** One fabric phase of the KV cache's hand-off into the wafer, as the fabric counted it beside its closed form. */
export interface HandoffPhase {
  name: string;
  /** Words per link (core * 4 + dir), measured. */
  perLink: Float32Array;
  words: number;
  steps: number;
  modelledWords: number;
  modelledSteps: number;
  /** The first link (or total) where measured and modelled differ; null when they agree exactly. */
  firstDifference: string | null;
}

/** The KV cache crossing from the GPU to the wafer (the disaggregated mode). */
export interface HandoffReport {
  positions: number;
  /** Bytes handed over, as the hand-off counted them (float32 keys and values of every layer and prompt position). */
  bytes: number;
  /** Measured wall clock here: the GPU's export and the wafer's import. */
  wallMs: number;
  /** Modelled: the slower of the network and the wafer's edge I/O, plus the fabric phases at the preset clock (in series). */
  modelledSeconds: number;
  /** Modelled parts: the network (latency + bytes ÷ bandwidth), the edge I/O, the fabric phases. */
  networkSeconds: number;
  edgeSeconds: number;
  fabricSeconds: number;
  network: string;
  edge: string;
  /** The network latency is assumed (no published figure). */
  latencyAssumed: boolean;
  /** Words the host's I/O lands on the west edge cores (closed form; each word once per copy the wafer keeps); null on the CPU stand-in. */
  edgeWords: number | null;
  /** The fabric phases that carry the words east to the cores that keep them (measured; empty on the CPU stand-in). */
  phases: HandoffPhase[];
}

/** The prefill before the first token, on each pane (on the first TokenEvent only). */
export interface PrefillReport {
  /** The wafer's own prefill; null in the disaggregated mode (the GPU prefills for it). */
  mesh: PrefillStat | null;
  gpu: PrefillStat;
  /** The disaggregated mode: the KV cache's crossing; null otherwise. */
  handoff: HandoffReport | null;
  /** Modelled seconds until the wafer pane has its first id: its prefill, or the GPU's prefill plus the hand-off. */
  meshTtftSeconds: number;
  /** Measured wall clock here until the wafer pane has its first id (null when stepped by hand). */
  meshTtftWallMs: number | null;
  /**
   * Disaggregated: the wafer's own prefill of the prompt, token by token, modelled (the fabric
   * decode's closed form, not run) — its time to first token had it prefilled alone; absent otherwise.
   */
  meshAloneSeconds?: number;
}

export interface EngineToken {
  id: number;
  piece: string;
}

/** One decoded token of the race, with what each machine's program cost for it. */
export interface TokenEvent {
  index: number; // generated-token index
  pos: number;
  mesh: EngineToken;
  gpu: EngineToken;
  meshCost: MachineCost;
  gpuCost: MachineCost;
  /** Modelled cycles per step (compute pass or fabric phase) of the fabric decode for this token. */
  phaseCycles: Float64Array;
  /** Words per link (core * 4 + dir) over this token: measured on the fabric (`measured` set), else the closed form's. */
  perLink: Float32Array;
  /** On the mesh engine: the token's words, steps, ramp words and adds counted where they moved, beside the closed form; null when modelled (the CPU stand-in). */
  measured: FabricTokenCount | null;
  stop: string | null;
  /**
   * The first token only: each machine's prefill of the prompt (and, disaggregated, the hand-off).
   * Its `gpuCost` stays the decode step's plan at that position (the prefill's own cost is here).
   * Disaggregated, the first id is the GPU's: `meshCost` and `gpuCost` are then the GPU's batched
   * prefill, `perLink` and `measured` the hand-off's fabric phases, and later tokens have no GPU
   * id (gpu.id −1; the GPU decodes nothing after its prefill; gpuCost repeats its prefill's).
   */
  prefill?: PrefillReport;
}

/** What the fabric counted in one phase, beside its closed form. */
export interface PhaseMeasurement {
  words: number;
  steps: number;
  rampWords: number;
  adds: number;
  modelledWords: number;
  modelledSteps: number;
  /** The first link (or total) where measured and modelled differ; null when they agree exactly. */
  firstDifference: string | null;
}

/** One step of the wafer run on its own (step phase). */
export interface PhaseEvent {
  pass: number;
  passes: number;
  pos: number;
  phases: PhaseInfo[];
  /** On the CPU stand-in: the step's modelled cycles (the fabric trace); null on the mesh engine (its phases are measured instead). */
  cycles: number | null;
  /** Words per link over this step: measured on a fabric phase, the closed form's on the CPU stand-in; zero on a compute pass. */
  perLink: Float32Array;
  /** A fabric phase on the mesh engine: what the fabric counted; null for a compute pass or on the CPU stand-in. */
  measured: PhaseMeasurement | null;
  /** Set when the pass finished a token. */
  token: TokenEvent | null;
}

export interface Progress {
  stage: string;
  fraction: number;
}

/**
 * A number a lesson quotes, asked of the worker when the lesson is shown (`workerApi.figures`):
 * computed by the functions the CLI prints it with. `model` is a catalog id, or 'current' (the
 * model loaded in the demo).
 */
export type FigureQuery =
  | { kind: 'model'; model?: string; precision?: 'fp32' | 'fp16' | 'fp8' }
  | { kind: 'fit'; model?: string; mesh: { width: number; height: number }; preset: string }
  | { kind: 'trace'; model?: string; mesh: { width: number; height: number }; preset: string; allreduce: string; pos?: number }
  | { kind: 'gpu'; model?: string; hardware?: string; pos?: number; precision?: 'fp32' | 'fp16' | 'fp8' }
  | { kind: 'prefill'; model?: string; hardware?: string; promptTokens: number; precision?: 'fp32' | 'fp16' | 'fp8' }
  | { kind: 'predict'; model: string; hardware: string; chips?: number; precision?: 'fp32' | 'fp16' | 'fp8'; context?: number }
  | { kind: 'real-prefill'; model: string; hardware: string; prompt: number; precision?: 'fp32' | 'fp16' | 'fp8' }
  | { kind: 'kv-transfer'; model: string; prompt: number; prefill: string; decode: string; precision?: 'fp32' | 'fp16' | 'fp8' }
  | { kind: 'wafer'; preset: string }
  | { kind: 'scale'; real: string; toy: string };

/** A query's values (numbers, names, flags), or the one-line reason it has none. */
export interface FigureResult {
  key: string;
  values: Record<string, number | string | boolean | null>;
  error: string | null;
}

/** Pre-generated text the real-scale race replays, with the modelled speeds it replays it at. */
export interface RealScaleRace {
  /** Token pieces of several stories chained (decoded here on the CPU reference). */
  pieces: string[];
  /** Where the text came from, in one line. */
  source: string;
  /** The two machines: name, tokens/s, and where the speed comes from (modelled by predict, or published). */
  machines: { mesh: RealScaleMachine; gpu: RealScaleMachine };
}

export interface RealScaleMachine {
  name: string;
  tokensPerS: number;
  /** 'modelled' (predict) or 'published' (the seed article's figures). */
  kind: 'modelled' | 'published';
  note: string;
}

/** The worker's answer to the page's heartbeat (`workerApi.health`). */
export interface WorkerHealth {
  /** One line per GPU device lost and recovered in the open session, oldest first. */
  recoveries: string[];
  /** GPU buffers made on the worker's devices and not yet destroyed (0 with no session open). */
  liveBuffers: number;
  createdBuffers: number;
}
