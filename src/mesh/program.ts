import type { ModelConfig } from '../model/config.ts';
import type { Allreduce } from './collectives.ts';
import type { MeshConfig } from './config.ts';
import type { Placement, VectorKind } from './placement.ts';

/**
 * The wafer program's format: one token's work (or a prompt's, for the programs to come) as a
 * list of phases, each either local compute on every core or a routed transfer (a collective
 * along rows or columns), compiled once from (model, mesh, placement) and replayed per token.
 * The programs themselves live in programs/ (decode.ts). The runtime executes a program, and the
 * trace, the cost model and the UI's animation all read it, so they cannot disagree.
 */

/** A collective along lines (every row, or every column) of the mesh; see collectives.ts for the algorithms. */
export type Collective =
  | 'row-allreduce' // sum across each row; every core of the row gets the sum
  | 'row-segment-allreduce' // sums across segments of each row (the columns one head spans)
  | 'col-allreduce' // across each column (attention: a softmax-combining sum)
  | 'col-gather' // each core broadcasts its share of a row-reduced vector along its column
  | 'col-broadcast'; // one row's cores broadcast along their columns (the token's embedding)

/** Words per core of a collective, as a function of the position decoded. */
export type WordsFn = (core: number, pos: number) => number;

export interface TransferPhase {
  readonly kind: 'transfer';
  readonly name: string;
  readonly layer: number | null;
  readonly collective: Collective;
  readonly algorithm: Allreduce | 'line';
  /** Words the core contributes (its vector length in an allreduce; what it sends in a gather or broadcast). */
  readonly words: WordsFn;
  /** For col-broadcast: the source row. */
  readonly sourceRow?: (token: number) => number;
  /** For col-gather: the vectors gathered (each core takes its column slice of each). */
  readonly gathers?: readonly VectorKind[];
  /** For row-segment-allreduce: the column ranges [first, end) reduced separately (one per head). */
  readonly segments?: readonly (readonly [number, number])[];
}

export interface ComputePhase {
  readonly kind: 'compute';
  readonly name: string;
  readonly layer: number | null;
  /** FLOPs of core `core` at position `pos` (the same loops the kernel runs). */
  readonly flops: (core: number, pos: number) => number;
}

export type Phase = TransferPhase | ComputePhase;

/** One GPU dispatch: a transfer phase followed by the local compute it feeds. */
export interface Pass {
  readonly entry: string; // WGSL entry point in shaders/mesh_step.wgsl
  readonly layer: number | null;
  readonly phases: readonly number[]; // indices into program.phases
}

export interface WaferProgram {
  readonly model: ModelConfig;
  readonly mesh: MeshConfig;
  readonly placement: Placement;
  readonly allreduce: Allreduce;
  readonly phases: readonly Phase[];
  readonly passes: readonly Pass[];
}


/** Builds a program phase by phase: transfers and computes are grouped into passes (GPU dispatches). */
export class ProgramBuilder {
  readonly phases: Phase[] = [];
  readonly passes: Pass[] = [];
  private current: number[] = [];

  transfer(p: Omit<TransferPhase, 'kind'>): void {
    this.current.push(this.phases.length);
    this.phases.push({ kind: 'transfer', ...p });
  }

  compute(p: Omit<ComputePhase, 'kind'>): void {
    this.current.push(this.phases.length);
    this.phases.push({ kind: 'compute', ...p });
  }

  /** Closes the phases added since the last pass into one pass running WGSL entry `entry`. */
  pass(entry: string, layer: number | null): void {
    this.passes.push({ entry, layer, phases: this.current });
    this.current = [];
  }
}

/** A program's passes as a machine lists them (name and layer). */
export function passList(program: Pick<WaferProgram, 'passes'>): { name: string; layer: number | null }[] {
  return program.passes.map((p) => ({ name: p.entry, layer: p.layer }));
}
