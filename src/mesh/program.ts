import type { ModelConfig } from '../model/config.ts';
import type { Allreduce } from './collectives.ts';
import type { MeshConfig } from './config.ts';
import type { Placement } from './placement.ts';

/**
 * A model compiled for a mesh: where every weight, KV-cache slot and scratch vector lives
 * (the placement, checked to fit) and which allreduce the collectives use. The decode itself —
 * its compute passes and fabric phases, each with its closed-form cost — is compiled from this by
 * programs/decode-fabric.ts, once, and replayed per token; `fit`, the SRAM image, the trace, the
 * cost model and the demo all read the same program.
 */
export interface WaferProgram {
  readonly model: ModelConfig;
  readonly mesh: MeshConfig;
  readonly placement: Placement;
  readonly allreduce: Allreduce;
}
