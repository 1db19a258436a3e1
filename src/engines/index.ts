import { WafermeshError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { MeshConfig } from '../mesh/config.ts';
import { compileProgram, type Allreduce } from '../mesh/program.ts';
import type { Model } from '../model/weights.ts';
import { CpuEngine } from './cpu.ts';
import type { Engine, EngineName } from './engine.ts';
import { GpuEngine } from './gpu.ts';
import { MeshEngine } from './mesh.ts';

/** Engines this build can create; the CLI, the bench and the worker all go through here. */
export const AVAILABLE_ENGINES: readonly EngineName[] = ['cpu', 'gpu', 'mesh'];

export interface EngineOptions {
  /** Gets the GPU device (Node or browser); only called for GPU engines. */
  gpu?: () => Promise<GpuContext>;
  mesh?: MeshConfig;
  allreduce?: Allreduce;
}

export async function createEngine(name: string, model: Model, options: EngineOptions = {}): Promise<Engine> {
  switch (name) {
    case 'cpu':
      return new CpuEngine(model);
    case 'gpu': {
      if (!options.gpu) throw new WafermeshError('no-webgpu', 'the gpu engine needs WebGPU');
      return GpuEngine.create(await options.gpu(), model);
    }
    case 'mesh': {
      if (!options.mesh) throw new WafermeshError('bad-option', 'the mesh engine needs a mesh (e.g. --mesh 8x8)');
      if (!options.gpu) throw new WafermeshError('no-webgpu', 'the mesh engine needs WebGPU');
      // Compile first: a model that does not fit is refused before any GPU work.
      const program = compileProgram(model.config, options.mesh, options.allreduce ?? 'tree');
      return MeshEngine.fromProgram(await options.gpu(), model, program);
    }
    default:
      throw new WafermeshError('unknown-engine', `engine "${name}" is not one of ${AVAILABLE_ENGINES.join(', ')}`);
  }
}
