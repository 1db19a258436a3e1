import type { KvCache } from '../model/kv.ts';
import { WafermeshError } from '../errors.ts';
import type { MachineTrace, PlanKind } from '../cost/model.ts';
import type { FabricCount } from '../mesh/fabric.ts';
import type { WaferProgram } from '../mesh/program.ts';
import type { FabricDecode } from '../mesh/programs/decode-fabric.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * What executes: the CPU reference, the off-chip GPU baseline, or the emulated wafer (`mesh`),
 * whose words move only between neighbouring cores, on its fabric.
 */
export type EngineName = 'cpu' | 'gpu' | 'mesh';

/** One step of a machine's plan (a compute pass or fabric phase of the wafer's decode, a kernel of the GPU's). */
export interface PassInfo {
  readonly name: string;
  readonly layer: number | null;
  /**
   * On the wafer (or the CPU standing in for it): a compute pass (each core touches only its own
   * SRAM) or a fabric phase (words move neighbour to neighbour); absent on the other machines.
   */
  readonly kind?: 'compute' | 'fabric';
}

/** One fabric phase of a token: what the closed form says and what the GPU counted. */
export interface MeasuredPhase {
  readonly name: string;
  readonly modelled: FabricCount;
  readonly measured: FabricCount;
  readonly firstDifference: string | null;
}

/** A KV cache handed to the wafer: what entered at its edge, and what the fabric moved, measured beside its closed form. */
/** One fabric phase of a wafer prefill: measured beside its closed form (over all the layers). */
export interface MeasuredPrefillPhase {
  readonly name: string;
  readonly modelled: FabricCount;
  readonly measured: FabricCount;
  readonly firstDifference: string | null;
}

/** A wafer prefill on the fabric as it ran: its phases, the KV cache's re-layout and hand-off into the decode's layout (each measured beside its closed form), the words and cycles of the re-layout, and the wall times (ms). */
export interface WaferPrefillRun {
  readonly phases: readonly MeasuredPrefillPhase[];
  readonly handoff: KvImport;
  readonly ms: number;
  readonly relayout: readonly MeasuredPrefillPhase[];
  readonly relayoutWords: number;
  readonly relayoutCycles: number;
  readonly relayoutMs: number;
}

export interface KvImport {
  readonly positions: number;
  /** Words the host's I/O landed on the edge cores (each KV word once per copy the wafer keeps). */
  readonly edgeWords: number;
  /** Modelled cycles of the hand-off's fabric phases at the preset. */
  readonly fabricCycles: number;
  readonly phases: readonly MeasuredPhase[];
  readonly violation: FabricViolation | null;
}

/** The first access an instrumented fabric run saw outside a core's slice or its neighbours' registers. */
export interface FabricViolation {
  readonly count: number;
  readonly code: 'sram' | 'link' | 'word';
  readonly core: number;
  readonly round: number;
  readonly address: number;
}

/** The one-line refusal of a run in which the fabric saw an access outside a core's SRAM or its neighbours' links. */
export function violationError(v: FabricViolation): WafermeshError {
  return new WafermeshError('fabric-violation', `a core reached outside its SRAM and its neighbours' links (${v.code} at core ${v.core}); this is a bug in the fabric decode`);
}

/** A token decoded on the fabric with what moved, phase by phase. */
export interface TokenMeasurement {
  readonly logits: Float32Array;
  readonly phases: readonly MeasuredPhase[];
  readonly violation: FabricViolation | null;
}

/**
 * The one interface every machine implements; `createMachine` (index.ts) makes them, and the CLI,
 * the benchmarks and the demo's worker drive them only through it. A machine owns its state (KV
 * cache, GPU buffers) until `dispose()`.
 */
export interface Machine {
  readonly engine: EngineName;
  /** The plan it follows, for traces and modelled costs: the wafer's, the GPU's, or none (plain CPU). */
  readonly plan: PlanKind | null;
  /** The wafer program it runs (or stands in for); null off the wafer. */
  readonly wafer: WaferProgram | null;
  /** The decode on the fabric it runs (or stands in for): its steps and each phase's closed form; null off the wafer. */
  readonly decode: FabricDecode | null;
  readonly config: ModelConfig;
  /** Human-readable description of where it runs (adapter, driver, mesh …). */
  readonly description: string;
  /** Positions the machine can hold (its KV cache): seq_len, or less where memory is short. */
  readonly context: number;
  /** Its passes per token, in order. */
  readonly passes: readonly PassInfo[];
  /** GPU buffers alive now (0 on the CPU): a test proves nothing leaks. */
  readonly liveBuffers: number;
  /** token at pos -> logits (vocab,). Positions must be fed in order 0, 1, 2 … after reset(). */
  forward(token: number, pos: number): Promise<Float32Array>;
  /**
   * The prompt as one batch (prefill): `tokens` (T,) at positions startPos … startPos+T−1, with the
   * positions before startPos already fed. Afterwards the KV cache holds positions startPos …
   * startPos+T−1 as T forward() calls would have left it, and decoding goes on at startPos+T.
   * Returns the logits of the last prompt position, startPos+T−1 (vocab,). Absent on machines
   * that feed the prompt one token at a time.
   */
  prefill?(tokens: readonly number[], startPos: number): Promise<Float32Array>;
  /**
   * Greedy decoding kept on the wafer (the mesh engine): decodes `token` at `pos` and returns the
   * next id, found on the wafer by a max-reduce over the cores holding the logits; only that id
   * leaves, and the wafer keeps it for the next token's embedding. `fed`: the host supplies
   * `token` (a prompt id); otherwise the wafer uses the id it found for the token before (the
   * host passes it too, to check). A non-finite logit anywhere is refused (non-finite-logits).
   */
  greedy?(token: number, pos: number, fed: boolean): Promise<number>;
  /** Its KV cache's first `positions` positions, for another machine to decode from (a prefill's hand-off). */
  kvCache?(positions: number): Promise<KvCache>;
  /**
   * Takes over a KV cache another machine computed, positions 0 … kv.positions − 1; decoding goes
   * on at kv.positions. The wafer takes it in at its edge and moves it over the fabric, and says
   * what moved (KvImport); the others write it into their memory.
   */
  importKv?(kv: KvCache): Promise<KvImport | void>;
  /** The wafer, after kvCache(): what its fabric carried out to the edge, per phase (absent elsewhere). */
  readonly lastExport?: KvImport;
  /** The wafer with its prefill on the fabric, after a prefill: what ran and moved (absent elsewhere). */
  readonly waferPrefill?: WaferPrefillRun;
  /**
   * Runs pass `pass` of the token at `pos` alone (passes in order, 0 first); the last pass returns
   * the logits, the others undefined. forward() is all passes at once.
   */
  stepPass(token: number, pos: number, pass: number): Promise<Float32Array | undefined>;
  /**
   * Where the machine can read back what moved after each token (the mesh engine): whether it
   * does, for lastTrace().fabricMeasured. A read-back per token: leave it off while timing.
   */
  measuring?: boolean;
  /** The mesh engine: decode a token and read back what moved beside the closed form (absent elsewhere). */
  measure?(token: number, pos: number): Promise<TokenMeasurement>;
  /**
   * The mesh engine while `measuring`: what the last stepPass moved when that pass was a fabric
   * phase (counted by the shader, beside the phase's closed form); undefined after a compute pass.
   */
  steppedPhase?(): MeasuredPhase | undefined;
  /** The last token's trace and modelled cost (`perLink`: the wafer's words per link too). */
  lastTrace(perLink?: boolean): MachineTrace | undefined;
  /** Starts a new sequence (forgets the KV cache). */
  reset(): void;
  /** Frees everything the machine holds; it is unusable afterwards. */
  dispose(): void;
}
