import { CATALOG } from '../catalog.ts';
import { gpuPreset } from '../cost/hardware.ts';
import { gpuMachineTrace, meshMachineTrace } from '../cost/model.ts';
import { WafermeshError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { baselinePasses } from '../baseline/program.ts';
import { DEFAULT_ALLREDUCE, type Allreduce } from '../mesh/collectives.ts';
import type { MeshConfig } from '../mesh/config.ts';
import type { WaferProgram } from '../mesh/program.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { compileFabricDecode, type FabricDecode } from '../mesh/programs/decode-fabric.ts';
import type { Model } from '../model/weights.ts';
import { CpuEngine, type StandIn } from './cpu.ts';
import { GpuEngine } from './gpu.ts';
import type { EngineName, Machine } from './machine.ts';
import { fabricPasses, MeshEngine } from './mesh.ts';

export type { EngineName, Machine, PassInfo } from './machine.ts';

/** Engines this build can create; the CLI, the bench and the worker all go through createMachine. */
export const ENGINES: readonly EngineName[] = ['cpu', 'gpu', 'mesh'];

export interface MachineOptions {
  /** Gets the GPU device (Node or browser); only called for GPU engines. */
  gpu?: () => Promise<GpuContext>;
  /** The wafer's mesh (the mesh engine, or a CPU standing in for the wafer). */
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
  /** The mesh engine: read back what moved after every token (lastTrace().fabricMeasured). */
  measure?: boolean;
  /** The mesh engine: 'fabric-gemm' gives it a prefill, the wafer prefill on the fabric (MeshGEMM layers); default none (token by token). */
  meshPrefill?: 'fabric-gemm';
}

function waferProgram(model: Model, options: MachineOptions): WaferProgram {
  if (options.program) return options.program;
  if (!options.mesh) throw new WafermeshError('bad-option', 'the wafer needs a mesh (e.g. --mesh 8x8)');
  // Compile first: a model that does not fit is refused before any GPU work.
  return compileProgram(model.config, options.mesh, options.allreduce ?? DEFAULT_ALLREDUCE);
}

/** The program's decode on the fabric (compiled once per machine: about 0.3 s on 8x8). */
function fabricDecode(program: WaferProgram): FabricDecode {
  // The fabric runs the chain or the K-tree: `ring` maps to the chain, `tree` to the K-tree.
  return compileFabricDecode(program);
}

/** The one way to make a machine: the CPU reference, the off-chip GPU baseline or the wafer. */
export async function createMachine(name: string, model: Model, options: MachineOptions = {}): Promise<Machine> {
  const hw = () => gpuPreset(options.gpuPreset ?? CATALOG.defaults.gpu);
  switch (name) {
    case 'cpu': {
      if (!options.standIn) return new CpuEngine(model);
      let standIn: StandIn;
      if (options.standIn === 'mesh') {
        // The wafer's plan is the decode on the fabric: its steps, and its closed form for the trace.
        const program = waferProgram(model, options);
        const decode = fabricDecode(program);
        standIn = { plan: 'mesh', wafer: program, decode, passes: fabricPasses(decode), trace: (t, pos, perLink) => meshMachineTrace(decode, t, pos, perLink) };
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
    case 'mesh': {
      const decode = fabricDecode(waferProgram(model, options));
      if (!options.gpu) throw new WafermeshError('no-webgpu', 'the mesh engine needs WebGPU');
      const machine = await MeshEngine.create(await options.gpu(), model, decode, { instrument: options.instrument, prefill: options.meshPrefill });
      machine.measuring = !!options.measure;
      return machine;
    }
    default:
      throw new WafermeshError('unknown-engine', `engine "${name}" is not one of ${ENGINES.join(', ')}`);
  }
}
