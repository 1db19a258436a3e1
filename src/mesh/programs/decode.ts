import { WafermeshError } from '../../errors.ts';
import type { ModelConfig } from '../../model/config.ts';
import { allreduceOf, DEFAULT_ALLREDUCE, type Allreduce } from '../collectives.ts';
import type { MeshConfig } from '../config.ts';
import { place, refuseIfNotFits } from '../placement.ts';
import type { WaferProgram } from '../program.ts';
import { compilePipelinedProgram, smallestFittingG } from '../pipelined.ts';

/** The placements the emulator runs: every layer over the whole mesh, or G layers a block (G absent: the fewest that fit). */
export type EmulatedPlacement = { readonly kind: 'whole' } | { readonly kind: 'pipelined'; readonly layersPerBlock?: number };

/**
 * Compiles a model for a mesh: places it (a model that does not fit is refused here, before any
 * GPU work) and fixes the allreduce. The decode on the fabric (decode-fabric.ts) is built from it.
 */
export function compileProgram(model: ModelConfig, mesh: MeshConfig, algorithm: Allreduce | string = DEFAULT_ALLREDUCE, valueBytes = 4, layout: EmulatedPlacement = { kind: 'whole' }): WaferProgram {
  const allreduce = allreduceOf(algorithm);
  if (layout.kind === 'pipelined') {
    const G = layout.layersPerBlock ?? smallestFittingG(model, mesh, allreduce);
    return compilePipelinedProgram(model, mesh, allreduce, G, valueBytes);
  }
  const placement = place(model, mesh, valueBytes);
  refuseIfNotFits(placement);
  return { model, mesh, placement, allreduce };
}
