import { assumedFigures, CATALOG, hardwarePreset, type Catalog } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { makeMesh } from '../mesh/config.ts';
import { kvCopies, place } from '../mesh/placement.ts';
import { allreduceOf, DEFAULT_ALLREDUCE, type Allreduce } from '../mesh/collectives.ts';
import { fabricTokenCycles, LAYER_PHASES } from '../mesh/fabric-closed.ts';
import type { TokenTrace } from '../mesh/fabric-trace.ts';
import { kvDim, makeConfig, parameterCount, type ModelConfig } from '../model/config.ts';
import { baselineBytes } from '../baseline/program.ts';
import { ENERGY, gpuPreset, waferPreset } from './hardware.ts';
import { BYTES_PER_VALUE, gpuTokenCost, meshTokenCost, type MachineCost, type Precision } from './model.ts';

export interface Prediction {
  readonly model: string;
  readonly hardware: string;
  readonly chips: number;
  readonly precision: Precision;
  readonly context: number;
  readonly tokens_per_s: number;
  readonly ms_per_token: number;
  readonly bound: string;
  readonly time_breakdown_ms: Record<string, number>;
  readonly energy_per_token_j: number;
  readonly assumptions: string[];
}

const round = (x: number, d = 4) => Number(x.toPrecision(d));

function result(model: string, hardware: string, chips: number, precision: Precision, context: number, cost: MachineCost, extra: Record<string, number>, assumptions: string[]): Prediction {
  const time: Record<string, number> = { ...cost.time, ...extra };
  const seconds = Object.values(time).reduce((a, b) => a + b, 0);
  const bound = Object.entries(time).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  return {
    model,
    hardware,
    chips,
    precision,
    context,
    tokens_per_s: round(1 / seconds),
    ms_per_token: round(seconds * 1e3),
    bound,
    time_breakdown_ms: Object.fromEntries(Object.entries(time).map(([k, v]) => [k, round(v * 1e3)])),
    energy_per_token_j: round(cost.joules),
    assumptions,
  };
}

/**
 * Single-stream decode speed from first principles: the GPU streams every weight and the KV cache
 * from HBM per token (tensor-parallel over `chips`); the wafer runs the fabric decode for this
 * model on the whole wafer (its layers split over `chips` wafers), costed by the fabric's cost model
 * (α per hop, β per ramp relay, link serialisation, the busiest core's compute; phases one after
 * another) in closed form, plus a hand-off between wafers. No published speed is used anywhere.
 */
export function predict(
  name: string,
  model: ModelConfig,
  hardware: string,
  options: { chips?: number; precision?: Precision; context?: number; allreduce?: Allreduce; catalog?: Catalog } = {},
): Prediction {
  const catalog = options.catalog ?? CATALOG;
  const preset = hardwarePreset(hardware, undefined, catalog);
  const chips = options.chips ?? 1;
  const precision = options.precision ?? 'fp16';
  const vb = BYTES_PER_VALUE[precision];
  const context = options.context ?? Math.min(1024, model.seqLen);
  if (!Number.isInteger(chips) || chips < 1 || chips > 1024) throw new WafermeshError('bad-option', `--chips ${chips} must be a whole number in 1…1024`);
  if (!Number.isInteger(context) || context < 1 || context > model.seqLen) {
    throw new WafermeshError('bad-option', `--context ${context} must be a whole number in 1…${model.seqLen} (the model's seq_len)`);
  }
  const pos = context - 1;
  const weightsTotal = parameterCount(model) * vb;
  const kvTotal = 2 * model.nLayers * context * kvDim(model) * vb;
  const common = [
    `model ${name}: ${parameterCount(model).toLocaleString('en')} parameters = ${(weightsTotal / 1e9).toFixed(2)} GB at ${precision} (${vb} B/value)`,
    `decoding one stream (batch 1) at position ${pos}: the KV cache holds ${context} positions = ${(kvTotal / 1e9).toFixed(3)} GB`,
  ];
  if (preset.kind === 'wafer') {
    if (chips > model.nLayers) {
      throw new WafermeshError('bad-option', `--chips ${chips} is more wafers than ${name} has layers (${model.nLayers}); a wafer holds at least one layer`);
    }
    const w = waferPreset(preset.id, catalog);
    const layersPerWafer = Math.ceil(model.nLayers / chips);
    const mesh = makeMesh({ ...w.core, width: w.fullWidth, height: w.fullHeight, flopsPerCoreCycle: precision === 'fp32' ? w.core.flopsPerCoreCycle : 2 * w.core.flopsPerCoreCycle });
    // Capacity: each wafer holds its layers' weights and their KV cache for the context; with
    // several wafers the first holds the embedding and the last the classifier (one table each).
    const fitOn = (n: number) => {
      const share = makeConfig({ ...model, nLayers: Math.ceil(model.nLayers / n), seqLen: context, sharedClassifier: n > 1 || model.sharedClassifier });
      const p = place(share, mesh, vb);
      return { p, ok: p.fits && p.context >= context };
    };
    const fit = fitOn(chips);
    if (!fit.ok) {
      let more = Math.max(chips + 1, Math.ceil((weightsTotal + kvTotal) / (w.cores * w.core.sramBytes)));
      while (more <= Math.min(1024, model.nLayers) && !fitOn(more).ok) more++;
      const hint = more <= Math.min(1024, model.nLayers) ? `--chips ${more}` : 'fewer positions (--context) or fp8';
      const why = fit.p.fits
        ? `its KV cache would hold only ${fit.p.context} of the ${context} positions`
        : `core (${fit.p.fullest.row},${fit.p.fullest.col}) would need ${fit.p.fullest.totalWords * 4} of ${mesh.sramBytes} bytes`;
      throw new WafermeshError('does-not-fit', `${name} at ${precision} with a ${context}-position KV cache does not fit ${chips} ${hardware} wafer(s): ${why}; use ${hint}`);
    }
    // Time: the decode on the fabric, costed in closed form on the whole wafer (the same cost model
    // as the fabric trace, without compiling per-core tables): every layer's phases, the embedding,
    // the final norm and the logits, one after another; each wafer runs its layers on all its cores.
    const algorithm = allreduceOf(options.allreduce ?? DEFAULT_ALLREDUCE);
    const c = fabricTokenCycles(model, mesh, pos, algorithm, 1, context);
    const t = c.total;
    const full: TokenTrace = {
      token: c.token,
      pos,
      phases: [],
      cycles: t.cycles,
      transferCycles: t.cycles - t.compute,
      computeCycles: t.compute,
      breakdown: { compute: t.compute, hops: t.hops, serialisation: t.serialisation, ramps: t.ramps },
      linkWords: t.linkWords,
      flops: t.flops,
      seconds: t.cycles / mesh.clockHz,
      passes: c.steps,
    };
    const layerCycles = LAYER_PHASES.reduce((a, k) => a + c.layer[k].cycles, 0);
    const layerPhases = LAYER_PHASES.map((k) => `${k} ${c.layer[k].cycles.toLocaleString('en')}`).join(', ');
    const cost = meshTokenCost(full, mesh, model, vb);
    const handoffs = (chips - 1) * w.waferToWaferSeconds;
    return result(name, hardware, chips, precision, context, cost, chips > 1 ? { 'wafer-to-wafer hand-offs': handoffs } : {}, [
      ...common,
      `${chips} wafer(s) of ${w.fullWidth} x ${w.fullHeight} cores (the Cerebras SDK's fabric), ${mesh.sramBytes} B SRAM per core, ${mesh.clockHz / 1e9} GHz, ${mesh.wordsPerLinkCycle} word per link per cycle, α = ${mesh.cyclesPerHop} cycle per hop, β = ${mesh.cyclesPerRamp} cycles per ramp relay (${w.sources})`,
      `${mesh.flopsPerCoreCycle} ${precision} FLOPs per core per cycle (${precision === 'fp32' ? 'the preset\'s f32 rate' : 'twice the preset\'s f32 rate at 16 bits'})`,
      ...assumedFigures(preset).map((a) => `assumption: ${a}`),
      `placement: every matrix of each layer tiled over the whole wafer; ${layersPerWafer} layer(s) per wafer; weights and KV cache at ${vb} B/value; activations move as 32-bit words`,
      `the fullest core holds ${fit.p.fullest.totalWords * 4} of ${mesh.sramBytes} bytes`,
      `KV cache: each KV coordinate stored at most ${kvCopies(model, mesh)} time(s) (query heads sit in the columns of their KV head; storing it per query head would take ${model.nHeads / model.nKvHeads} copies)`,
      `time per token = the fabric decode's cost model on the whole wafer, in closed form (equal, part by part, to the trace of the compiled fabric decode wherever that can be compiled): ${model.nLayers} layers of ${LAYER_PHASES.length} fabric phases and their compute passes, plus the embedding allreduce, the final norm, the logits reduction and the next token's id`,
      `a fabric phase costs its slowest word, round after round: its place in its stream ÷ ${mesh.wordsPerLinkCycle} word per link-cycle (link serialisation) + α = ${mesh.cyclesPerHop} cycle for every hop from its origin to its end (hop latency) + β = ${mesh.cyclesPerRamp} cycles for every ramp relay on its way — each core that adds it on a reduction, the one delivery of a broadcast (ramp relays; β is assumed); a compute pass costs the busiest core's FLOPs ÷ ${mesh.flopsPerCoreCycle} FLOPs per cycle`,
      `phases and compute passes run one after another: no overlap between them is modelled`,
      `one layer's fabric phases on the wafer: ${layerCycles.toLocaleString('en')} cycles (${layerPhases})`,
      `Σx² and the attention statistics allreduced by the ${{ chain: 'streamed chain', ring: 'folded ring', ktree: 'two-level K-tree' }[algorithm]} (--allreduce ${algorithm}); matrix-vector results reduce-scattered along the rows by streamed chains, gathered down the columns by broadcasts${kvCopies(model, mesh) > 1 ? ', K and V multicast along the rows to their copies' : ''}`,
      ...(chips > 1 ? [`${chips - 1} activation hand-off(s) between wafers at ${w.waferToWaferSeconds * 1e6} µs each (assumption)`] : []),
      `energy: ${ENERGY.sources}`,
    ]);
  }
  const hw = gpuPreset(preset.id, catalog);
  if (weightsTotal / chips + kvTotal / chips > hw.hbmBytes) {
    const need = Math.ceil((weightsTotal + kvTotal) / hw.hbmBytes);
    throw new WafermeshError('does-not-fit', `${name} at ${precision} needs ${((weightsTotal + kvTotal) / 1e9).toFixed(1)} GB but ${chips} ${hardware} hold ${((chips * hw.hbmBytes) / 1e9).toFixed(0)} GB; use --chips ${need} or more`);
  }
  // Tensor parallel over `chips`: each chip streams 1/chips of every weight and of the KV cache;
  // two allreduces of the activations per layer cross NVLink.
  const perChip = gpuTokenCost(model, pos, { ...hw, hbmBytesPerS: hw.hbmBytesPerS * chips, peakFlops: { fp32: hw.peakFlops.fp32 * chips, fp16: hw.peakFlops.fp16 * chips, fp8: hw.peakFlops.fp8 * chips } }, precision);
  const steps = 2 * (chips - 1);
  const allreduce = chips > 1 ? 2 * model.nLayers * steps * (hw.linkLatencySeconds + (model.dim * vb) / chips / hw.linkBytesPerS) : 0;
  const bytes = baselineBytes(model, pos, vb);
  return result(name, hardware, chips, precision, context, perChip, chips > 1 ? { 'NVLink allreduces': allreduce } : {}, [
    ...common,
    `${chips} x ${hw.description} (${hw.sources})`,
    ...assumedFigures(preset).map((a) => `assumption: ${a}`),
    `every token streams all weights once (${(bytes.weights / 1e9).toFixed(2)} GB) and the KV cache up to the position (${(bytes.kv / 1e9).toFixed(3)} GB) from HBM at the full peak bandwidth (an upper bound: real kernels reach less)`,
    `per kernel: the longer of its bytes ÷ ${(chips * hw.hbmBytesPerS) / 1e12} TB/s and its FLOPs ÷ ${(chips * hw.peakFlops[precision]) / 1e12} TFLOPS (${precision}, dense), plus ${hw.launchSeconds * 1e6} µs launch; the kernels are wafermesh's baseline program (${5 * model.nLayers + 1} per token)`,
    `the ${(hw.l2Bytes / 1e6).toPrecision(3)} MB L2 holds none of the weights between tokens (${(bytes.weights / 1e6).toPrecision(4)} MB ≫ ${(hw.l2Bytes / 1e6).toPrecision(3)} MB)`,
    ...(chips > 1 ? [`tensor parallel: 2 ring allreduces of ${model.dim * vb} B per layer over NVLink (${hw.linkBytesPerS / 1e9} GB/s each way, ${hw.linkLatencySeconds * 1e6} µs per step)`] : []),
    `energy: ${ENERGY.sources}`,
  ]);
}
