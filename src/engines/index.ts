import { CATALOG } from '../catalog.ts';
import { gpuPreset } from '../cost/hardware.ts';
import { gpuMachineTrace, meshMachineTrace } from '../cost/model.ts';
import { WafermeshError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { baselinePasses } from '../baseline/program.ts';
import { DEFAULT_ALLREDUCE, type Allreduce } from '../mesh/collectives.ts';
import type { MeshConfig } from '../mesh/config.ts';
import { passList, type WaferProgram } from '../mesh/program.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { compileFabricDecode } from '../mesh/programs/decode-fabric.ts';
import type { Model } from '../model/weights.ts';
import { CpuEngine, type StandIn } from './cpu.ts';
import { GpuEngine } from './gpu.ts';
import type { EngineName, Machine } from './machine.ts';
import { MeshEngine } from './mesh.ts';

export type { EngineName, Machine, PassInfo } from './machine.ts';

/** Engines this build can create; the CLI, the bench and the worker all go through createMachine. */
export const ENGINES: readonly EngineName[] = ['cpu', 'gpu', 'mesh', 'fabric'];

export interface MachineOptions {
  /** Gets the GPU device (Node or browser); only called for GPU engines. */
  gpu?: () => Promise<GpuContext>;
  /** The wafer's mesh (mesh engine, or a CPU standing in for the wafer). */
  mesh?: MeshConfig;
  allreduce?: Allreduce;
  /** An already compiled wafer program (skips compiling from `mesh`). */
  program?: WaferProgram;
  /** The GPU preset the baseline's modelled cost is for (default: the catalog's). */
  gpuPreset?: string;
  /** For the cpu engine: the plan it stands in for (its passes and modelled trace). */
  standIn?: 'mesh' | 'gpu';
  /** Count on the GPU what the kernels move (slower; tests). */
  instrument?: boolean;
  /** The fabric engine: read back what moved after every token (lastTrace().fabricMeasured). */
  measure?: boolean;
}

function waferProgram(model: Model, options: MachineOptions): WaferProgram {
  if (options.program) return options.program;
  if (!options.mesh) throw new WafermeshError('bad-option', 'the wafer needs a mesh (e.g. --mesh 8x8)');
  // Compile first: a model that does not fit is refused before any GPU work.
  return compileProgram(model.config, options.mesh, options.allreduce ?? DEFAULT_ALLREDUCE);
}

/** The one way to make a machine: the CPU reference, the off-chip GPU baseline or the wafer. */
export async function createMachine(name: string, model: Model, options: MachineOptions = {}): Promise<Machine> {
  const hw = () => gpuPreset(options.gpuPreset ?? CATALOG.defaults.gpu);
  switch (name) {
    case 'cpu': {
      if (!options.standIn) return new CpuEngine(model);
      let standIn: StandIn;
      if (options.standIn === 'mesh') {
        const program = waferProgram(model, options);
        standIn = { plan: 'mesh', wafer: program, passes: passList(program), trace: (t, pos, perLink) => meshMachineTrace(program, t, pos, perLink) };
      } else {
        const gpu = hw();
        standIn = { plan: 'gpu', passes: baselinePasses(model.config), trace: (t, pos) => gpuMachineTrace(model.config, t, pos, gpu) };
      }
      return new CpuEngine(model, standIn);
    }
    case 'gpu': {
      const gpu = hw();
      if (!options.gpu) throw new WafermeshError('no-webgpu', 'the gpu engine needs WebGPU');
      return GpuEngine.create(await options.gpu(), model, gpu, { instrument: options.instrument });
    }
    case 'mesh':
    case 'fabric': {
      const program = waferProgram(model, options);
      // The fabric runs the chain or the K-tree: `ring` maps to the chain, `tree` to the K-tree.
      const fabric = name === 'fabric' ? compileFabricDecode(program, program.allreduce === 'ring' ? 'chain' : 'ktree') : undefined;
      if (!options.gpu) throw new WafermeshError('no-webgpu', `the ${name} engine needs WebGPU`);
      const machine = await MeshEngine.fromProgram(await options.gpu(), model, program, { instrument: options.instrument, fabric });
      machine.measuring = !!options.measure && !!fabric;
      return machine;
    }
    default:
      throw new WafermeshError('unknown-engine', `engine "${name}" is not one of ${ENGINES.join(', ')}`);
  }
}
