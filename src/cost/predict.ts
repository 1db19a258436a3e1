import { assumedFigures, CATALOG, hardwarePreset, modelEntry, type Catalog } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { makeMesh } from '../mesh/config.ts';
import { kvCopies } from '../mesh/placement.ts';
import { allreduceOf, DEFAULT_ALLREDUCE, type Allreduce } from '../mesh/collectives.ts';
import { LAYER_PHASES } from '../mesh/fabric-closed.ts';
import type { TokenTrace } from '../mesh/fabric-trace.ts';
import { kvDim, parameterCount, type ModelConfig } from '../model/config.ts';
import { baselineBytes } from '../baseline/program.ts';
import { ENERGY, gpuPreset, waferPreset, type GpuHardware } from './hardware.ts';
import { BYTES_PER_VALUE, gpuTokenCost, meshTokenCost, type MachineCost, type Precision } from './model.ts';
import { searchPlacements, wholeWaferFits, type Evaluated, type PlacementOption, type PlacementRequest } from './placement-search.ts';

/** A placement tried, with its modelled speed (one token, the wafer-to-wafer hand-offs included) when it fits. */
export type PlacementResult = PlacementOption & { readonly ms_per_token?: number; readonly tokens_per_s?: number };

/** Speculative decoding as `predict` models it (Leviathan, Kalman and Matias, ICML 2023). */
export interface SpeculativeResult {
  readonly draft: string;
  /** α: the chance the target accepts a drafted token. */
  readonly acceptance: number;
  /** γ: tokens the draft proposes per step. */
  readonly draft_tokens: number;
  /** E = (1 − α^(γ+1)) / (1 − α): tokens a step yields on average. */
  readonly tokens_per_step: number;
  readonly draft_ms_per_token: number;
  readonly verify_ms: number;
  readonly step_ms: number;
  /** The target alone, decoding one token a step, for comparison. */
  readonly plain_tokens_per_s: number;
}

export interface Prediction {
  readonly model: string;
  readonly hardware: string;
  readonly chips: number;
  readonly precision: Precision;
  readonly context: number;
  /** The wafer region used, when not the whole wafer. */
  readonly mesh?: { readonly width: number; readonly height: number };
  readonly tokens_per_s: number;
  readonly ms_per_token: number;
  readonly bound: string;
  readonly time_breakdown_ms: Record<string, number>;
  readonly energy_per_token_j: number;
  readonly speculative?: SpeculativeResult;
  /** Wafers: the placement taken (the fastest tried, or the fastest of the kind forced), modelled. */
  readonly placement?: PlacementResult;
  /** Wafers: every placement tried, fitting ones first from the fastest, then those that do not fit (with why). */
  readonly placements?: PlacementResult[];
  readonly assumptions: string[];
}

export interface SpeculativeOptions {
  /** The draft model's name (for the report) and shape. */
  readonly draft: string;
  readonly draftModel: ModelConfig;
  /** α in [0, 1); default SPECULATIVE_DEFAULTS.acceptance. */
  readonly acceptance?: number;
  /** γ ≥ 1; default SPECULATIVE_DEFAULTS.draftTokens. */
  readonly draftTokens?: number;
}

export interface PredictOptions {
  chips?: number;
  precision?: Precision;
  context?: number;
  allreduce?: Allreduce;
  catalog?: Catalog;
  /** Wafers: the region of cores the model is placed on (default the whole wafer). */
  mesh?: { width: number; height: number };
  /** Wafers: force a kind of placement (`--placement`); by default the fastest of all is taken. */
  placement?: PlacementRequest;
  speculative?: SpeculativeOptions;
  /**
   * Streams decoded together (a batch; default 1): each step advances every stream by one token.
   * A GPU reads the weights once for the batch and each stream's KV cache; a wafer keeps its
   * weights in place and streams the batch's activations through (compute and link serialisation
   * times the batch, hop latency and ramp relays once), its SRAM holding every stream's KV cache.
   */
  batch?: number;
}

/**
 * One documented default for speculative decoding, the same for every prediction and every
 * validation row (never chosen per row): γ = 5 drafted tokens, gpt-fast's `--speculate_k` default
 * (pytorch-labs/gpt-fast generate.py); α = 0.8, our assumption — acceptance depends on the pair
 * of models and the text, and Leviathan et al. (ICML 2023) show it varying widely between pairs.
 */
export const SPECULATIVE_DEFAULTS = {
  acceptance: 0.8,
  draftTokens: 5,
  sources:
    "γ = 5: gpt-fast's --speculate_k default (pytorch-labs/gpt-fast, generate.py); α = 0.8: our assumption, one value for every row; " +
    'expected tokens per step E = (1 − α^(γ+1)) / (1 − α): Leviathan, Kalman and Matias, "Fast Inference from Transformers via Speculative Decoding", ICML 2023',
};

/** Expected tokens a speculative step yields: (1 − α^(γ+1)) / (1 − α) (Leviathan et al. 2023, eq. 1). */
export function tokensPerStep(acceptance: number, draftTokens: number): number {
  if (acceptance === 0) return 1;
  return (1 - acceptance ** (draftTokens + 1)) / (1 - acceptance);
}

const round = (x: number, d = 4) => Number(x.toPrecision(d));

/** Bytes with a unit that keeps the number readable: 1.74 MB, not 0.00 GB. */
export function formatBytes(b: number): string {
  const units: [number, string][] = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'kB'],
  ];
  for (const [size, unit] of units) if (b >= size) return `${(b / size).toPrecision(3)} ${unit}`;
  return `${b} B`;
}

/** One decode step's cost before it is turned into a Prediction: seconds and joules by category. */
interface StepCost {
  readonly time: Record<string, number>;
  readonly joules: number;
  readonly assumptions: string[];
  /** Wafers: the placement taken and every one tried. */
  readonly placement?: PlacementResult;
  readonly placements?: PlacementResult[];
}

function sum(x: Record<string, number>): number {
  return Object.values(x).reduce((a, b) => a + b, 0);
}

function result(base: Omit<Prediction, 'tokens_per_s' | 'ms_per_token' | 'bound' | 'time_breakdown_ms' | 'energy_per_token_j' | 'assumptions'>, time: Record<string, number>, joules: number, assumptions: string[]): Prediction {
  const seconds = sum(time);
  const bound = Object.entries(time).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  return {
    ...base,
    tokens_per_s: round(1 / seconds),
    ms_per_token: round(seconds * 1e3),
    bound,
    time_breakdown_ms: Object.fromEntries(Object.entries(time).map(([k, v]) => [k, round(v * 1e3)])),
    energy_per_token_j: round(joules),
    assumptions,
  };
}

/**
 * An allreduce of `bytes` between `n` chips, as current inference engines run it for small
 * messages: one-shot (every chip reads its n − 1 peers' vectors over its links and adds them:
 * α + (n − 1)·S ÷ B) or two-shot (reduce-scatter then allgather: 2α + 2(n − 1)/n·S ÷ B),
 * whichever is faster — TensorRT-LLM's and vLLM's custom allreduce choose between them by size.
 */
export function allreduceSeconds(n: number, bytes: number, hw: Pick<GpuHardware, 'allreduceSeconds' | 'linkBytesPerS'>): { seconds: number; algorithm: 'one-shot' | 'two-shot' | 'none' } {
  if (n <= 1) return { seconds: 0, algorithm: 'none' };
  const oneShot = hw.allreduceSeconds + ((n - 1) * bytes) / hw.linkBytesPerS;
  const twoShot = 2 * hw.allreduceSeconds + (2 * (n - 1) * bytes) / n / hw.linkBytesPerS;
  return oneShot <= twoShot ? { seconds: oneShot, algorithm: 'one-shot' } : { seconds: twoShot, algorithm: 'two-shot' };
}

/**
 * Single-stream decode speed from first principles: the GPU streams every weight and the KV cache
 * from HBM per token (tensor-parallel over `chips`, two allreduces per layer); the wafer runs the
 * fabric decode for this model on the whole wafer or the given region (its layers split over
 * `chips` wafers), costed by the fabric's cost model (α per hop, β per ramp relay, link
 * serialisation, the busiest core's compute; phases one after another) in closed form, plus a
 * hand-off between wafers. With `speculative`, a draft model proposes γ tokens and the target
 * verifies them in one step. No published speed is used anywhere.
 */
export function predict(name: string, model: ModelConfig, hardware: string, options: PredictOptions = {}): Prediction {
  const catalog = options.catalog ?? CATALOG;
  const preset = hardwarePreset(hardware, undefined, catalog);
  const chips = options.chips ?? 1;
  const precision = options.precision ?? 'fp16';
  const context = options.context ?? Math.min(1024, model.seqLen);
  if (!Number.isInteger(chips) || chips < 1 || chips > 1024) throw new WafermeshError('bad-option', `--chips ${chips} must be a whole number in 1…1024`);
  if (!Number.isInteger(context) || context < 1 || context > model.seqLen) {
    throw new WafermeshError('bad-option', `--context ${context} must be a whole number in 1…${model.seqLen} (the model's seq_len)`);
  }
  if (options.mesh && preset.kind !== 'wafer') throw new WafermeshError('bad-option', `--cores applies to wafers; ${preset.id} is not one`);
  const spec = options.speculative;
  const batch = options.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1 || batch > 1e6) throw new WafermeshError('bad-option', `--streams ${batch} must be a whole number in 1…1000000`);
  if (spec && batch > 1) throw new WafermeshError('bad-option', 'speculative decoding (--draft) is modelled for one stream; it cannot be combined with a batch of streams');
  const tokens = spec ? (spec.draftTokens ?? SPECULATIVE_DEFAULTS.draftTokens) + 1 : batch;
  const target = preset.kind === 'wafer' ? waferStep(name, model, hardware, chips, precision, context, tokens, options, catalog) : gpuStep(name, model, preset.id, chips, precision, context, tokens, catalog, batch);
  if (options.placement && preset.kind !== 'wafer') throw new WafermeshError('bad-option', `--placement applies to wafers; ${preset.id} is not one`);
  const placed = target.placement ? { placement: target.placement, placements: target.placements } : {};
  const base = { model: name, hardware, chips, precision, context, ...(options.mesh ? { mesh: { width: options.mesh.width, height: options.mesh.height } } : {}), ...placed };
  if (!spec) return result(base, target.time, target.joules, target.assumptions);

  // Speculative decoding: γ draft tokens one after another, then the target verifies γ + 1
  // positions in one step; a step yields E tokens on average.
  const acceptance = spec.acceptance ?? SPECULATIVE_DEFAULTS.acceptance;
  const gamma = spec.draftTokens ?? SPECULATIVE_DEFAULTS.draftTokens;
  if (!(acceptance >= 0 && acceptance < 1)) throw new WafermeshError('bad-option', `--acceptance ${acceptance} must be a number in [0, 1)`);
  if (!Number.isInteger(gamma) || gamma < 1 || gamma > 64) throw new WafermeshError('bad-option', `--draft-tokens ${gamma} must be a whole number in 1…64`);
  const draftChips = preset.kind === 'wafer' ? Math.min(chips, spec.draftModel.nLayers) : chips;
  const draft = predict(spec.draft, spec.draftModel, hardware, { ...options, chips: draftChips, speculative: undefined, placement: undefined, context: Math.min(context, spec.draftModel.seqLen) });
  const plain = predict(name, model, hardware, { ...options, speculative: undefined });
  const E = tokensPerStep(acceptance, gamma);
  const draftSeconds = gamma * (draft.ms_per_token / 1e3);
  const verifySeconds = sum(target.time);
  const perToken: Record<string, number> = { [`draft: ${gamma} tokens of ${spec.draft}`]: draftSeconds / E };
  for (const [k, v] of Object.entries(target.time)) perToken[`verify: ${k}`] = v / E;
  const joules = (gamma * draft.energy_per_token_j + target.joules) / E;
  const speculative: SpeculativeResult = {
    draft: spec.draft,
    acceptance,
    draft_tokens: gamma,
    tokens_per_step: round(E),
    draft_ms_per_token: draft.ms_per_token,
    verify_ms: round(verifySeconds * 1e3),
    step_ms: round((draftSeconds + verifySeconds) * 1e3),
    plain_tokens_per_s: plain.tokens_per_s,
  };
  return result({ ...base, speculative }, perToken, joules, [
    ...target.assumptions,
    `speculative decoding: ${spec.draft} drafts γ = ${gamma} tokens (${draft.ms_per_token} ms each on the same ${draftChips} ${hardware}), the target verifies ${gamma + 1} positions in one step (${round(verifySeconds * 1e3)} ms); with acceptance α = ${acceptance} a step yields E = (1 − α^(γ+1)) / (1 − α) = ${round(E)} tokens on average (Leviathan et al., ICML 2023); the target alone: ${plain.tokens_per_s} tokens/s`,
    `speculative defaults: ${SPECULATIVE_DEFAULTS.sources}`,
    ...(preset.kind === 'wafer' ? [`the draft is costed as if it had the same wafer(s) to itself; that it shares SRAM with the target is not modelled`] : []),
  ]);
}

/** The wafer: the placement search, then the fabric decode in closed form on the placement chosen. */
function waferStep(name: string, model: ModelConfig, hardware: string, chips: number, precision: Precision, context: number, tokens: number, options: PredictOptions, catalog: Catalog): StepCost {
  const preset = hardwarePreset(hardware, 'wafer', catalog);
  const vb = BYTES_PER_VALUE[precision];
  const pos = context - 1;
  const weightsTotal = parameterCount(model) * vb;
  const streams = options.batch ?? 1;
  const kvTotal = 2 * model.nLayers * context * streams * kvDim(model) * vb;
  if (chips > model.nLayers) {
    throw new WafermeshError('bad-option', `--chips ${chips} is more wafers than ${name} has layers (${model.nLayers}); a wafer holds at least one layer`);
  }
  const w = waferPreset(preset.id, catalog);
  if (options.mesh && (options.mesh.width > w.fullWidth || options.mesh.height > w.fullHeight)) {
    throw new WafermeshError('bad-option', `--cores ${options.mesh.width}x${options.mesh.height} is larger than the ${preset.id} fabric (${w.fullWidth} x ${w.fullHeight})`);
  }
  if (options.mesh && options.placement && options.placement.kind === 'pipelined') {
    throw new WafermeshError('bad-option', '--cores places every layer on one block of cores; it cannot be combined with --placement pipelined');
  }
  const wafer = makeMesh({ ...w.core, width: w.fullWidth, height: w.fullHeight, flopsPerCoreCycle: precision === 'fp32' ? w.core.flopsPerCoreCycle : 2 * w.core.flopsPerCoreCycle });
  const algorithm = allreduceOf(options.allreduce ?? DEFAULT_ALLREDUCE);
  // A batch of streams keeps every stream's KV cache: as much SRAM as one stream of streams × context positions.
  const search = searchPlacements({ model, wafer, chips, context: context * streams, valueBytes: vb, algorithm, fixedRegion: options.mesh, request: options.placement });
  const handSeconds = (chips - 1) * w.waferToWaferSeconds;
  const withTime = (e: Evaluated): PlacementResult =>
    e.option.cycles === undefined
      ? e.option
      : { ...e.option, ms_per_token: round((e.option.cycles / wafer.clockHz + handSeconds) * 1e3), tokens_per_s: round(1 / (e.option.cycles / wafer.clockHz + handSeconds)) };
  const best = search.best;
  if (!best) {
    // Nothing fits: how many wafers would hold the model tiled over each whole wafer.
    let more = Math.max(chips + 1, Math.ceil((weightsTotal + kvTotal) / (w.fullWidth * w.fullHeight * w.core.sramBytes)));
    while (more <= Math.min(1024, model.nLayers) && !wholeWaferFits(model, wafer, more, context * streams, vb)) more++;
    const hint = more <= Math.min(1024, model.nLayers) ? `--chips ${more}` : 'fewer positions (--context) or fp8';
    const first = search.tried[0]?.option;
    const why = first?.why ?? 'no placement of this kind applies';
    const what = options.placement ? ` with --placement ${options.placement.kind}${options.placement.layersPerRegion ? `:${options.placement.layersPerRegion}` : ''}` : '';
    const where = options.mesh ? `a ${options.mesh.width} x ${options.mesh.height} region of ${chips} ${hardware} wafer(s)` : `${chips} ${hardware} wafer(s)`;
    throw new WafermeshError('does-not-fit', `${name} at ${precision} with ${streams > 1 ? `${streams} streams' ${context}-position KV caches` : `a ${context}-position KV cache`} does not fit ${where}${what}: ${first ? `${first.label}: ` : ''}${why}; use ${hint}`);
  }
  const mesh = best.region;
  const region = mesh.width !== w.fullWidth || mesh.height !== w.fullHeight;
  const o = best.option;
  const t = best.cost!;
  const c = best.token!;
  // Time: the placement's cost in the fabric's cost model (the same as the fabric trace, in
  // closed form, without compiling per-core tables), its steps one after another.
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
  // A step over `tokens` positions (speculative verification): the words of each stream are
  // `tokens` times as many and so is every core's arithmetic; hop latency and ramp relays are
  // paid once, the vectors following one another down the same routes.
  const time: Record<string, number> = {};
  for (const [k, v] of Object.entries(cost.time)) time[k] = k === 'compute' || k === 'fabric: link serialisation' ? v * tokens : v;
  if (chips > 1) time['wafer-to-wafer hand-offs'] = handSeconds;
  const placed =
    o.kind === 'pipelined'
      ? `placement: pipelined — ${o.layers_per_region} layer(s) per region, each group tiled over its own ${mesh.width} x ${mesh.height} region (${o.grid!.across} x ${o.grid!.down} regions on each wafer, ${o.regions_per_wafer} used on the fullest), the embedding and the classifier ${o.tables === 'own regions' ? 'in regions of their own' : 'with the first and the last layers'}; weights and KV cache at ${vb} B/value; activations move as 32-bit words`
      : `placement: ${o.kind} — every matrix of each layer tiled over the ${region ? `${mesh.width} x ${mesh.height} block` : 'whole wafer'}; ${o.layers_per_region} layer(s) per wafer; weights and KV cache at ${vb} B/value; activations move as 32-bit words`;
  const tried = search.tried.map(withTime);
  const others = search.tried.filter((e) => e.cost).length;
  return {
    time,
    joules: cost.joules * tokens,
    placement: withTime(best),
    placements: tried,
    assumptions: [
      ...commonLines(name, model, precision, context, streams),
      `${chips} wafer(s) of ${w.fullWidth} x ${w.fullHeight} cores (the Cerebras SDK's fabric)${options.mesh ? `, the model on a ${mesh.width} x ${mesh.height} region of each (the setup asked for)` : ''}, ${mesh.sramBytes} B SRAM per core, ${mesh.clockHz / 1e9} GHz, ${mesh.wordsPerLinkCycle} word per link per cycle, α = ${mesh.cyclesPerHop} cycle per hop, β = ${mesh.cyclesPerRamp} cycles per ramp relay (${w.sources})`,
      `${mesh.flopsPerCoreCycle} ${precision} FLOPs per core per cycle (${precision === 'fp32' ? "the preset's f32 rate" : "twice the preset's f32 rate at 16 bits"})`,
      ...assumedFigures(preset).map((a) => `assumption: ${a}`),
      options.mesh
        ? `placement: the block asked for (--cores), tiled as the whole wafer is`
        : `placement search: ${search.tried.length} placements tried (${others} fit), the fastest in this cost model taken${options.placement ? ` among --placement ${options.placement.kind}${options.placement.layersPerRegion ? `:${options.placement.layersPerRegion}` : ''}` : ''} — whole-wafer tiling, smaller blocks (subgrid) and layer-pipelined regions; every region of a placement tiled as a whole mesh is (src/mesh/placement.ts)`,
      placed,
      `the fullest core holds ${o.fullest_core_bytes} of ${mesh.sramBytes} bytes`,
      `KV cache: each KV coordinate stored at most ${kvCopies(model, mesh)} time(s) (query heads sit in the columns of their KV head; storing it per query head would take ${model.nHeads / model.nKvHeads} copies)`,
      `time per token = the fabric decode's cost model on the ${o.kind === 'pipelined' ? 'regions' : region ? 'block' : 'whole wafer'}, in closed form (equal, part by part, to the trace of the compiled fabric decode wherever that can be compiled): ${model.nLayers} layers of ${LAYER_PHASES.length} fabric phases and their compute passes, plus the embedding allreduce, the final norm, the logits reduction and the next token's id`,
      ...(o.kind === 'pipelined'
        ? [
            `pipelined hand-offs (modelled, not run by the emulator): ${o.handoffs!.count} per token, ${o.handoffs!.cycles.toLocaleString('en')} cycles in all — the activation to the next region below or above by a broadcast down each column (h hops, one delivery), or beside by a streamed chain along each row relayed at every core (β each), then gathered down the columns; each followed by the Σx² pass the next region's norm needs; the next token's id back to the first region on the same wafer`,
          ]
        : []),
      `a fabric phase costs its slowest word, round after round: its place in its stream ÷ ${mesh.wordsPerLinkCycle} word per link-cycle (link serialisation) + α = ${mesh.cyclesPerHop} cycle for every hop from its origin to its end (hop latency) + β = ${mesh.cyclesPerRamp} cycles for every ramp relay on its way — each core that adds it on a reduction, the one delivery of a broadcast (ramp relays; β is assumed); a compute pass costs the busiest core's FLOPs ÷ ${mesh.flopsPerCoreCycle} FLOPs per cycle`,
      `phases and compute passes run one after another: no overlap between them is modelled`,
      `one layer's fabric phases: ${layerCycles.toLocaleString('en')} cycles (${layerPhases})`,
      `Σx² and the attention statistics allreduced by the ${{ chain: 'streamed chain', ring: 'folded ring', ktree: 'two-level K-tree' }[algorithm]} (--allreduce ${algorithm}); matrix-vector results reduce-scattered along the rows by streamed chains, gathered down the columns by broadcasts${kvCopies(model, mesh) > 1 ? ', K and V multicast along the rows to their copies' : ''}`,
      ...(tokens > 1 ? [`a step over ${tokens} positions multiplies compute and link serialisation by ${tokens}; hop latency and ramp relays are paid once (the vectors follow one another down the same routes)`] : []),
      ...(streams > 1
        ? [
            `a batch of ${streams} streams: their KV caches are placed as one of ${streams} x ${context} positions; each stream's attention is costed over all ${streams * context} positions, so attention is counted ${streams} times over (an upper bound on its share)`,
          ]
        : []),
      ...(chips > 1 ? [`${chips - 1} activation hand-off(s) between wafers at ${w.waferToWaferSeconds * 1e6} µs each (assumption); the wafers run one after another (a pipeline holds one token in flight at batch 1); the next token's id returning to the first wafer is not counted`] : []),
      `energy: ${ENERGY.sources}`,
    ],
  };
}

/** The GPU server: tensor parallel over `chips`, each streaming its share of weights and KV cache. */
function gpuStep(name: string, model: ModelConfig, hardware: string, chips: number, precision: Precision, context: number, tokens: number, catalog: Catalog, streams = 1): StepCost {
  const preset = hardwarePreset(hardware, 'gpu', catalog);
  const hw = gpuPreset(preset.id, catalog);
  const vb = BYTES_PER_VALUE[precision];
  const pos = context - 1;
  const weightsTotal = parameterCount(model) * vb;
  const kvTotal = 2 * model.nLayers * context * kvDim(model) * vb * streams;
  if (weightsTotal / chips + kvTotal / chips > hw.hbmBytes) {
    const need = Math.ceil((weightsTotal + kvTotal) / hw.hbmBytes);
    throw new WafermeshError('does-not-fit', `${name} at ${precision}${streams > 1 ? ` with ${streams} streams` : ''} needs ${formatBytes(weightsTotal + kvTotal)} but ${chips} ${hardware} hold ${formatBytes(chips * hw.hbmBytes)}; use --chips ${need} or more`);
  }
  // Tensor parallel over `chips`: each chip streams 1/chips of every weight and of the KV cache
  // and runs every kernel on its share (the same kernel count, in parallel).
  const shard: GpuHardware = { ...hw, hbmBytesPerS: hw.hbmBytesPerS * chips, peakFlops: { fp32: hw.peakFlops.fp32 * chips, fp16: hw.peakFlops.fp16 * chips, fp8: hw.peakFlops.fp8 * chips } };
  const cost: MachineCost = gpuTokenCost(model, pos, shard, precision, ENERGY, tokens, streams);
  // Two allreduces of the activations per layer (after attention's wo and after the FFN's w2),
  // in 16-bit (32-bit at fp32) whatever the weights' precision.
  const actBytes = precision === 'fp32' ? 4 : 2;
  const ar = allreduceSeconds(chips, model.dim * actBytes * tokens, hw);
  const time: Record<string, number> = { ...cost.time };
  if (chips > 1) time['allreduces'] = 2 * model.nLayers * ar.seconds;
  const bytes = baselineBytes(model, pos, vb);
  const kernels = 5 * model.nLayers + 1;
  return {
    time,
    joules: cost.joules,
    assumptions: [
      ...commonLines(name, model, precision, context, streams),
      `${chips} x ${hw.description} (${hw.sources})`,
      ...assumedFigures(preset).map((a) => `assumption: ${a}`),
      `every token streams all weights once (${formatBytes(bytes.weights)}) and the KV cache up to the position (${formatBytes(bytes.kv)}) from HBM at ${hbmBandwidthLine(hw)}`,
      `per kernel: the longer of its bytes ÷ ${(chips * hw.hbmBytesPerS) / 1e12} TB/s and its FLOPs ÷ ${(chips * hw.peakFlops[precision]) / 1e12} TFLOPS (${precision}, dense); the kernels are wafermesh's baseline program (${kernels} per token)`,
      hw.graphLaunchSeconds > 0
        ? `launches: the token's ${kernels} kernels replayed as one CUDA graph, ${hw.graphLaunchSeconds * 1e6} µs per replay plus ${hw.launchSeconds * 1e6} µs per kernel node`
        : `launches: ${hw.launchSeconds * 1e6} µs per kernel, each launched on its own`,
      `the ${formatBytes(hw.l2Bytes)} last-level cache holds none of the weights between tokens (${formatBytes(bytes.weights)} ≫ ${formatBytes(hw.l2Bytes)})`,
      ...(chips > 1
        ? [
            `tensor parallel: 2 allreduces of ${formatBytes(model.dim * actBytes * tokens)} per layer, ${ar.algorithm} (one-shot: α + (n − 1)·S ÷ B; two-shot: 2α + 2(n − 1)/n·S ÷ B; the faster), α = ${hw.allreduceSeconds * 1e6} µs, B = ${hw.linkBytesPerS / 1e9} GB/s each way per chip: ${round(ar.seconds * 1e6, 3)} µs each`,
          ]
        : []),
      ...(tokens > 1 && streams === 1 ? [`a step over ${tokens} positions reads every weight and the cached K and V once and does ${tokens} times one token's FLOPs`] : []),
      ...(streams > 1 ? [`a batch of ${streams} streams: every weight read once for the batch, each stream's own K and V (${formatBytes(bytes.kv)} each), ${streams} times one token's FLOPs`] : []),
      `energy: ${ENERGY.sources}`,
    ],
  };
}

/** Which HBM bandwidth a GPU preset streams at, in words, with its source. */
export function hbmBandwidthLine(hw: GpuHardware): string {
  const tb = (x: number) => `${x / 1e12} TB/s`;
  return hw.hbmBandwidth.kind === 'sustained'
    ? `${tb(hw.hbmBytesPerS)} per chip, the sustained bandwidth measured on this GPU (${hw.hbmBandwidth.source}); the datasheet peak is ${tb(hw.peakHbmBytesPerS)}`
    : `${tb(hw.hbmBytesPerS)} per chip, the datasheet peak (${hw.hbmBandwidth.source}): no measured sustained figure for this GPU in the catalog, so an upper bound — real kernels reach less`;
}

function commonLines(name: string, model: ModelConfig, precision: Precision, context: number, streams = 1): string[] {
  const vb = BYTES_PER_VALUE[precision];
  const kvTotal = 2 * model.nLayers * context * kvDim(model) * vb;
  return [
    `model ${name}: ${parameterCount(model).toLocaleString('en')} parameters = ${formatBytes(parameterCount(model) * vb)} at ${precision} (${vb} B/value)`,
    streams > 1
      ? `decoding ${streams} streams together, each at position ${context - 1}: each KV cache holds ${context} positions = ${formatBytes(kvTotal)}, ${formatBytes(streams * kvTotal)} in all`
      : `decoding one stream (batch 1) at position ${context - 1}: the KV cache holds ${context} positions = ${formatBytes(kvTotal)}`,
  ];
}

/** A draft model for `--draft NAME`: a catalog model with a published shape. */
export function draftModel(name: string, catalog: Catalog = CATALOG): ModelConfig {
  const m = modelEntry(name, catalog);
  if (!m?.config) {
    const known = catalog.models.filter((x) => x.config).map((x) => x.id);
    throw new WafermeshError('bad-option', `--draft ${name} is not a model with a published shape in the catalog; use one of ${known.join(', ')}`);
  }
  return m.config;
}
