import { WafermeshError } from '../../errors.ts';
import type { ModelConfig } from '../../model/config.ts';
import { allreduceOf, DEFAULT_ALLREDUCE, type Allreduce } from '../collectives.ts';
import type { MeshConfig } from '../config.ts';
import { place, refuseIfNotFits } from '../placement.ts';
import type { WaferProgram } from '../program.ts';

/**
 * Compiles a model for a mesh: places it (a model that does not fit is refused here, before any
 * GPU work) and fixes the allreduce. The decode on the fabric (decode-fabric.ts) is built from it.
 */
export function compileProgram(model: ModelConfig, mesh: MeshConfig, algorithm: Allreduce | string = DEFAULT_ALLREDUCE, valueBytes = 4): WaferProgram {
  const allreduce = allreduceOf(algorithm);
  const placement = place(model, mesh, valueBytes);
  refuseIfNotFits(placement);
  return { model, mesh, placement, allreduce };
}
