import type { MachineCost } from '../cost/model.ts';
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
}

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
}

export interface PhaseInfo {
  index: number;
  pass: number;
  name: string;
  kind: 'compute' | 'transfer';
  layer: number | null;
  collective: string | null;
}

export interface SessionInfo {
  modelName: string;
  config: ModelConfig;
  describe: string;
  hasTokenizer: boolean;
  promptText: string;
  /** 'webgpu' when the mesh and GPU engines run; 'cpu' when WebGPU is missing (the reference decodes both panes). */
  mode: 'webgpu' | 'cpu';
  adapter: string | null;
  noWebgpuReason: string | null;
  fit: FitReport;
  phases: PhaseInfo[];
  passes: number;
  /** The GPU baseline's kernels, in order, with their bytes. */
  gpuKernels: { name: string; layer: number | null; weightBytes: number; launch: boolean }[];
  presetClockHz: number;
  gpuPresetName: string;
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
  /** Modelled cycles per phase of the mesh program for this token. */
  phaseCycles: Float64Array;
  /** Words per link (core * 4 + dir) over this token. */
  perLink: Float32Array;
  stop: string | null;
}

/** One pass of the mesh program run on its own (step phase). */
export interface PhaseEvent {
  pass: number;
  passes: number;
  pos: number;
  phases: PhaseInfo[];
  cycles: number;
  /** Words per link over this pass. */
  perLink: Float32Array;
  /** Set when the pass finished a token. */
  token: TokenEvent | null;
}

export interface Progress {
  stage: string;
  fraction: number;
}
