import { baselineBytes, baselinePrefill, baselineProgram, launchedKernels } from '../baseline/program.ts';
import type { MeshConfig } from '../mesh/config.ts';
import { traceFabricToken, type TokenTrace } from '../mesh/fabric-trace.ts';
import type { FabricDecode } from '../mesh/programs/decode-fabric.ts';
import type { ModelConfig } from '../model/config.ts';
import { ENERGY, type EnergyCosts, type GpuHardware } from './hardware.ts';

export type Precision = 'fp32' | 'fp16' | 'fp8';
export const BYTES_PER_VALUE: Record<Precision, number> = { fp32: 4, fp16: 2, fp8: 1 };

/** Modelled cost of one token on one machine, and where its time and energy go. */
export interface MachineCost {
  readonly machine: string;
  readonly seconds: number;
  readonly tokensPerS: number;
  /** Seconds per category; they add up to `seconds`. */
  readonly time: Record<string, number>;
  readonly joules: number;
  /** Joules per category; they add up to `joules`. */
  readonly energy: Record<string, number>;
  /** The category that takes the most time. */
  readonly bound: string;
  readonly offchipBytes: number;
  readonly fabricWords: number;
}

function finish(machine: string, time: Record<string, number>, energy: Record<string, number>, offchipBytes: number, fabricWords: number): MachineCost {
  const seconds = Object.values(time).reduce((a, b) => a + b, 0);
  const joules = Object.values(energy).reduce((a, b) => a + b, 0);
  const bound = Object.entries(time).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  return { machine, seconds, tokensPerS: seconds > 0 ? 1 / seconds : Infinity, time, joules, energy, bound, offchipBytes, fabricWords };
}

/**
 * The wafer: time from the fabric decode's trace (compute, hop latency, link serialisation and
 * ramp relays) at the preset clock; energy from FLOPs, SRAM reads (every weight and the KV cache
 * once per token) and words × hops on the fabric.
 */
export function meshTokenCost(trace: TokenTrace, mesh: MeshConfig, model: ModelConfig, valueBytes = 4, e: EnergyCosts = ENERGY): MachineCost {
  const f = 1 / mesh.clockHz;
  const b = trace.breakdown;
  const sram = baselineBytes(model, trace.pos, valueBytes);
  return finish(
    `mesh ${mesh.width}x${mesh.height}`,
    {
      'compute': b.compute * f,
      'fabric: hop latency': b.hops * f,
      'fabric: link serialisation': b.serialisation * f,
      ...(b.ramps > 0 ? { 'fabric: ramp relays': b.ramps * f } : {}),
    },
    {
      'FLOPs': trace.flops * e.pjPerFlop * 1e-12,
      'SRAM reads': (sram.weights + sram.kv) * e.pjPerSramByte * 1e-12,
      'fabric': trace.linkWords * e.pjPerWordHop * 1e-12,
    },
    0,
    trace.linkWords,
  );
}

/**
 * The conventional GPU: each kernel of the baseline program takes the longer of its off-chip
 * bytes ÷ bandwidth and its FLOPs ÷ peak, plus its launch (a graph node's gap; the graph's replay
 * once per token). The memory time is split between weights and KV cache in proportion to their
 * bytes. `tokens` > 1 is one step over that many positions at once (a speculative verification):
 * every weight and the cached K and V are still read once, the FLOPs are `tokens` times one
 * token's. `streams` > 1 is a batch of that many streams (with `tokens` = streams): the weights
 * read once for the batch, each stream's own K and V read, every stream's FLOPs.
 */
export function gpuTokenCost(model: ModelConfig, pos: number, hw: GpuHardware, precision: Precision = 'fp32', e: EnergyCosts = ENERGY, tokens = 1, streams = 1): MachineCost {
  const vb = BYTES_PER_VALUE[precision];
  const peak = hw.peakFlops[precision];
  const time = { 'HBM: weights': 0, 'HBM: KV cache': 0, 'compute': 0, 'kernel launches': hw.graphLaunchSeconds };
  let bytes = 0;
  let flops = 0;
  for (const k of baselineProgram(model, vb)) {
    const kv = streams * k.kvBytes(pos);
    const mem = (k.weightBytes + kv) / hw.hbmBytesPerS;
    const comp = (tokens * k.flops(pos)) / peak;
    if (mem >= comp) {
      const total = k.weightBytes + kv;
      if (total > 0) {
        time['HBM: weights'] += (mem * k.weightBytes) / total;
        time['HBM: KV cache'] += (mem * kv) / total;
      }
    } else {
      time['compute'] += comp;
    }
    if (k.launch) time['kernel launches'] += hw.launchSeconds;
    bytes += k.weightBytes + kv;
    flops += tokens * k.flops(pos);
  }
  return finish(hw.name, time, { 'FLOPs': flops * e.pjPerFlop * 1e-12, 'HBM reads': bytes * e.pjPerHbmByte * 1e-12 }, bytes, 0);
}

/**
 * The conventional GPU's prefill of `T` prompt tokens as one batch (`baselinePrefill`): each of its
 * kernels takes the longer of its off-chip bytes (weights, KV cache read and written) ÷ bandwidth
 * and its FLOPs ÷ peak, plus a launch, as `gpuTokenCost` does for one token. `seconds` is the
 * whole batch; `tokensPerS` is prompt tokens per second (T ÷ seconds), not one token's rate.
 * `logits: 'last'` (the default) computes only the last position's logits, as the engine does.
 */
export function gpuPrefillCost(
  model: ModelConfig,
  T: number,
  hw: GpuHardware,
  { startPos = 0, logits = 'last', precision = 'fp32' }: { startPos?: number; logits?: 'all' | 'last'; precision?: Precision } = {},
  e: EnergyCosts = ENERGY,
): MachineCost {
  const plan = baselinePrefill(model, T, startPos, { logits, bytesPerValue: BYTES_PER_VALUE[precision] });
  const peak = hw.peakFlops[precision];
  const time = { 'HBM: weights': 0, 'HBM: KV cache': 0, 'compute': 0, 'kernel launches': 0 };
  for (const k of plan.kernels) {
    const kv = k.kvReadBytes + k.kvWriteBytes;
    const total = k.weightBytes + kv;
    const mem = total / hw.hbmBytesPerS;
    const comp = k.flops / peak;
    if (mem >= comp) {
      if (total > 0) {
        time['HBM: weights'] += (mem * k.weightBytes) / total;
        time['HBM: KV cache'] += (mem * kv) / total;
      }
    } else {
      time['compute'] += comp;
    }
    time['kernel launches'] += hw.launchSeconds;
  }
  const bytes = plan.weightBytes + plan.kvReadBytes + plan.kvWriteBytes;
  const cost = finish(`${hw.name} prefill`, time, { 'FLOPs': plan.flops * e.pjPerFlop * 1e-12, 'HBM reads and writes': bytes * e.pjPerHbmByte * 1e-12 }, bytes, 0);
  return { ...cost, tokensPerS: cost.seconds > 0 ? T / cost.seconds : Infinity };
}

/** Which plan a machine follows: the wafer program or the off-chip GPU's kernels. */
export type PlanKind = 'mesh' | 'gpu';

/**
 * One token on one machine: what moved and what it cost. The same type for the wafer, the GPU
 * baseline and the CPU standing in for either (the demo without WebGPU), so the CLI, the bench
 * and the worker read every machine one way.
 */
export interface MachineTrace {
  readonly plan: PlanKind;
  readonly token: number;
  readonly pos: number;
  /** GPU dispatches the plan runs per token. */
  readonly passes: number;
  readonly flops: number;
  /** Off-chip bytes read (the GPU plan; zero on the wafer). */
  readonly offchip: { readonly weights: number; readonly kv: number };
  /** The fabric decode's trace, step by step (the mesh plan only). */
  readonly fabric: TokenTrace | null;
  /** Modelled time and energy on the preset hardware. */
  readonly cost: MachineCost;
  /** True when the off-chip bytes were counted on the GPU by the kernels; false when read off the plan. */
  readonly counted: boolean;
  /** On the mesh engine when measuring: what moved, counted where it moved, and the closed form. */
  readonly fabricMeasured?: FabricTokenCount;
}

/** A token's fabric traffic over all its phases: measured on the GPU beside the closed-form model. */
export interface FabricTokenCount {
  readonly words: number;
  readonly steps: number;
  readonly rampWords: number;
  readonly adds: number;
  readonly modelledWords: number;
  readonly modelledSteps: number;
  /** Phases whose words per link, steps, ramp words and adds all equal the model. */
  readonly phasesEqual: number;
  readonly phases: number;
}

/**
 * A wafer token's trace, read off the fabric decode's closed form (`perLink`: words per link too,
 * for drawing).
 */
export function meshMachineTrace(decode: FabricDecode, token: number, pos: number, perLink = false): MachineTrace {
  const program = decode.program;
  const fabric = traceFabricToken(decode, token, pos, perLink);
  return {
    plan: 'mesh',
    token,
    pos,
    passes: fabric.passes,
    flops: fabric.flops,
    offchip: { weights: 0, kv: 0 },
    fabric,
    cost: meshTokenCost(fabric, program.mesh, program.model),
    counted: false,
  };
}

/** A GPU-baseline token's trace; `counted` replaces the plan's off-chip bytes with the kernels' counts. */
export function gpuMachineTrace(model: ModelConfig, token: number, pos: number, hw: GpuHardware, counted?: { weights: number; kv: number }): MachineTrace {
  const kernels = baselineProgram(model);
  const bytes = baselineBytes(model, pos);
  return {
    plan: 'gpu',
    token,
    pos,
    passes: launchedKernels(kernels).length,
    flops: kernels.reduce((a, k) => a + k.flops(pos), 0),
    offchip: counted ?? bytes,
    fabric: null,
    cost: gpuTokenCost(model, pos, hw, 'fp32'),
    counted: !!counted,
  };
}
