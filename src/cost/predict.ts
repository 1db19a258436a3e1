import { assumedFigures, CATALOG, hardwarePreset, type Catalog } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { makeMesh } from '../mesh/config.ts';
import { kvCopies, place } from '../mesh/placement.ts';
import { CYCLES_PER_STEP, DEFAULT_ALLREDUCE, type Allreduce } from '../mesh/collectives.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { traceToken } from '../mesh/trace.ts';
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
 * from HBM per token (tensor-parallel over `chips`); the wafer runs the wafer program for this
 * model on the whole wafer (its layers split over `chips` wafers), costed by the same trace the
 * emulator's counters come from. No published speed is used anywhere.
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
    // Time: one layer's phases on the whole wafer (every layer is the same program), times the
    // layers, plus the embedding and classifier phases, plus hand-offs between wafers.
    const one = compileProgram(makeConfig({ ...model, nLayers: 1, seqLen: context }), mesh, options.allreduce ?? DEFAULT_ALLREDUCE, vb);
    const t = traceToken(one, 1, pos);
    const perLayer = t.phases.filter((p) => p.layer === 0);
    const scale = (x: number, layerPart: number) => x + (model.nLayers - 1) * layerPart;
    const sum = (f: (p: (typeof perLayer)[number]) => number) => perLayer.reduce((a, p) => a + f(p), 0);
    const full = {
      ...t,
      cycles: scale(t.cycles, sum((p) => p.cycles)),
      linkWords: scale(t.linkWords, sum((p) => p.linkWords)),
      flops: scale(t.flops, sum((p) => p.flops)),
      breakdown: {
        compute: scale(t.breakdown.compute, sum((p) => p.breakdown.compute)),
        hops: scale(t.breakdown.hops, sum((p) => p.breakdown.hops)),
        serialisation: scale(t.breakdown.serialisation, sum((p) => p.breakdown.serialisation)),
        steps: scale(t.breakdown.steps, sum((p) => p.breakdown.steps)),
        ramps: scale(t.breakdown.ramps, sum((p) => p.breakdown.ramps)),
      },
    };
    const cost = meshTokenCost(full, mesh, model, vb);
    const handoffs = (chips - 1) * w.waferToWaferSeconds;
    return result(name, hardware, chips, precision, context, cost, chips > 1 ? { 'wafer-to-wafer hand-offs': handoffs } : {}, [
      ...common,
      `${chips} wafer(s) of ${w.fullWidth} x ${w.fullHeight} cores (the Cerebras SDK's fabric), ${mesh.sramBytes} B SRAM per core, ${mesh.clockHz / 1e9} GHz, ${mesh.wordsPerLinkCycle} word per link per cycle, ${mesh.cyclesPerHop} cycle per hop (${w.sources})`,
      `${mesh.flopsPerCoreCycle} ${precision} FLOPs per core per cycle (${precision === 'fp32' ? 'the preset\'s f32 rate' : 'twice the preset\'s f32 rate at 16 bits'})`,
      ...assumedFigures(preset).map((a) => `assumption: ${a}`),
      `placement: every matrix of each layer tiled over the whole wafer; ${layersPerWafer} layer(s) per wafer; weights and KV cache at ${vb} B/value; activations move as 32-bit words`,
      `the fullest core holds ${fit.p.fullest.totalWords * 4} of ${mesh.sramBytes} bytes`,
      `KV cache: each KV coordinate stored at most ${kvCopies(model, mesh)} time(s) (query heads sit in the columns of their KV head; storing it per query head would take ${model.nHeads / model.nKvHeads} copies)`,
      `time per token = the wafer program's phases (one layer costed on the whole wafer, times ${model.nLayers}, plus embedding and classifier): hop latency of the longest route + serialisation on the busiest link + ${CYCLES_PER_STEP} cycles per collective step (assumption) + the busiest core's compute`,
      `${options.allreduce ?? DEFAULT_ALLREDUCE} allreduce along rows and columns`,
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
