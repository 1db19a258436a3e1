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

/**
 * A phase of what "step one phase" walks. On the fabric engine each step is one phase: a compute
 * pass (`kind` 'compute', named by its entry point) or a fabric phase ('transfer'). On the
 * functional model a step is a pass of the wafer program and holds one or more of its phases.
 */
export interface PhaseInfo {
  /** The phase's index: in the fabric decode's steps, or in the functional program's phases. */
  index: number;
  /** The step that runs it (0 … SessionInfo.passes - 1). */
  pass: number;
  name: string;
  kind: 'compute' | 'transfer';
  layer: number | null;
  collective: string | null;
  /** What it does, in one line ('' on the functional model). */
  caption: string;
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
  /**
   * What decodes the wafer pane: 'fabric', the fabric engine, whose words move only between
   * neighbouring cores and whose link counts are measured by the shader; or 'functional', the
   * functional model (the mesh engine, or without WebGPU the CPU reference standing in for it),
   * whose link counts are read off the wafer program: modelled.
   */
  wafer: 'fabric' | 'functional';
  /** Why the wafer pane runs the functional model although WebGPU is here (the fabric refused the mesh); null otherwise. */
  waferNote: string | null;
  /** The phases "step one phase" walks, in order. */
  phases: PhaseInfo[];
  /** Steps per token: the fabric's compute passes and fabric phases, or the functional program's passes. */
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
  /** Words per link (core * 4 + dir) over this token: measured on the fabric (`measured` set), else modelled. */
  perLink: Float32Array;
  /** On the fabric: the token's words, steps, ramp words and adds counted where they moved, beside the closed form; null when modelled. */
  measured: FabricTokenCount | null;
  stop: string | null;
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
  /** Modelled cycles of the functional program's pass; null on the fabric (its phases' steps are measured instead). */
  cycles: number | null;
  /** Words per link over this step: measured on a fabric phase (zero on a compute pass), modelled on the functional model. */
  perLink: Float32Array;
  /** A fabric phase: what the fabric counted; null for a compute pass or the functional model. */
  measured: PhaseMeasurement | null;
  /** Set when the pass finished a token. */
  token: TokenEvent | null;
}

export interface Progress {
  stage: string;
  fraction: number;
}
