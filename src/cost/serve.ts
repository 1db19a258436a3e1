import { CATALOG, hardwarePreset, type Catalog, type Figure } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { makeMesh } from '../mesh/config.ts';
import { kvDim, parameterCount, type ModelConfig } from '../model/config.ts';
import { gpuPreset, waferPreset } from './hardware.ts';
import { BYTES_PER_VALUE, type Precision } from './model.ts';
import { wholeWaferFits } from './placement-search.ts';
import { predict, type Prediction, type PredictOptions } from './predict.ts';
import { kvTransfer, predictPrefill, type KvTransfer, type PrefillPrediction } from './prefill.ts';

/**
 * The serving view, modelled: S streams, each a prompt of N positions then M output tokens, on a
 * monolithic configuration (one kind of machine prefills and decodes, the decode pausing for each
 * new stream's prefill) or a disaggregated one (a prefill pool hands each KV cache to a decode pool
 * that only decodes). Both batch streams: a GPU reads its weights once a step for the batch and
 * each stream's KV cache; a wafer keeps its weights in place and streams the batch's activations
 * through. The footprint (chips, power, rack units) is an input — per system from the catalog,
 * sourced or assumed, or given — and printed. No published speed is read.
 */

const round = (x: number, d = 4) => Number(x.toPrecision(d));

export interface Footprint {
  readonly chips: number;
  readonly power_kw: number;
  readonly rack_units: number;
}

/** Per system: chips, power (W) and rack units, from the catalog unless given. */
export interface SystemInput {
  readonly chips: Figure;
  readonly powerW: Figure;
  readonly rackUnits: Figure;
  readonly name: string;
}

export interface ServeRequest {
  readonly streams: number;
  readonly prompt: number;
  readonly output: number;
  readonly precision?: Precision;
  /** Overrides per hardware id: a system's power in watts and rack units (`--system-power`, `--system-rack-units`). */
  readonly systemPowerW?: Record<string, number>;
  readonly systemRackUnits?: Record<string, number>;
  readonly catalog?: Catalog;
  readonly allreduce?: PredictOptions['allreduce'];
  /**
   * The speed every stream must keep (`--min-speed`, output tokens/s a stream: the average over its
   * output where prefills pause the decode): an instance takes no more streams than keep it, and
   * more instances serve the rest. Without it an instance takes as many as it holds.
   */
  readonly minSpeed?: number;
}

/** One pool of machines: instances of `chips` chips, each serving `streams_per_instance` streams. */
export interface Pool {
  readonly hardware: string;
  readonly chips_per_instance: number;
  readonly instances: number;
  readonly footprint: Footprint;
}

export interface DecodePool extends Pool {
  readonly streams_per_instance: number;
  /** The most streams one instance holds, and what stops one more. */
  readonly max_streams_per_instance: number;
  readonly limit: string;
  /** One decode step for the instance's batch: every stream one token. */
  readonly step_ms: number;
  readonly step_bound: string;
  /** Wafers: the placement the batch runs on (the faster of the search's and whole-wafer tiling). */
  readonly placement?: string;
  /** With --min-speed: whether one stream an instance keeps it at all. */
  readonly meets_min_speed?: boolean;
}

export interface PrefillPool extends Pool {
  readonly ttft_ms: number;
  readonly prefill_tokens_per_s: number;
  readonly bound: string;
}

export interface ServeConfig {
  readonly kind: 'monolithic' | 'disaggregated';
  readonly label: string;
  readonly prefill: PrefillPool;
  readonly decode: DecodePool;
  readonly kv_transfer?: KvTransfer;
  /** Time to first token for a stream: its prefill (+ the KV transfer), modelled, no queueing. */
  readonly ttft_ms: number;
  /** Output tokens a stream gets per second while decoding (1 ÷ the step). */
  readonly per_stream_tokens_per_s: number;
  /** Output tokens per second a stream averages over its M tokens, pauses for other streams' prefills included. */
  readonly per_stream_average_tokens_per_s: number;
  /** Output tokens per second of all S streams together. */
  readonly throughput_tokens_per_s: number;
  readonly footprint: Footprint;
  readonly tokens_per_s_per_kw: number;
  readonly tokens_per_s_per_rack_unit: number;
  readonly tokens_per_s_per_chip: number;
}

export interface ServePrediction {
  readonly model: string;
  readonly precision: Precision;
  readonly streams: number;
  readonly prompt: number;
  readonly output: number;
  /** With --min-speed: the speed every stream must keep. */
  readonly min_speed?: number;
  readonly configs: ServeConfig[];
  /** The footprint inputs per hardware, with their sources. */
  readonly systems: Record<string, { name: string; chips: number; power_w: number; rack_units: number; sources: string[] }>;
  readonly assumptions: string[];
  readonly left_out: string[];
}

/** A hardware's system figures, with the overrides applied (and marked as given). */
export function systemOf(hardware: string, req: Pick<ServeRequest, 'systemPowerW' | 'systemRackUnits' | 'catalog'>): SystemInput {
  const catalog = req.catalog ?? CATALOG;
  const s = catalog.systems[hardware];
  if (!s) throw new WafermeshError('bad-option', `no system figures (chips, power, rack units) for ${hardware} in the catalog; the serving view covers ${Object.keys(catalog.systems).join(', ')}`);
  const power = req.systemPowerW?.[hardware];
  const ru = req.systemRackUnits?.[hardware];
  return {
    name: s.name,
    chips: s.chips,
    powerW: power === undefined ? s.powerW : { value: power, source: 'given (--system-power)' },
    rackUnits: ru === undefined ? s.rackUnits : { value: ru, source: 'given (--system-rack-units)' },
  };
}

export function footprintOf(hardware: string, chips: number, req: Pick<ServeRequest, 'systemPowerW' | 'systemRackUnits' | 'catalog'>): Footprint {
  const s = systemOf(hardware, req);
  const share = chips / s.chips.value;
  return { chips, power_kw: round((share * s.powerW.value) / 1e3), rack_units: round(share * s.rackUnits.value) };
}

const add = (a: Footprint, b: Footprint): Footprint => ({ chips: a.chips + b.chips, power_kw: round(a.power_kw + b.power_kw), rack_units: round(a.rack_units + b.rack_units) });

/** The fewest chips that hold the model and one stream's KV cache of `context` positions. */
export function fewestChips(model: ModelConfig, hardware: string, precision: Precision, context: number, catalog: Catalog = CATALOG): number {
  const preset = hardwarePreset(hardware, undefined, catalog);
  const vb = BYTES_PER_VALUE[precision];
  if (preset.kind === 'gpu') {
    const hw = gpuPreset(preset.id, catalog);
    const need = parameterCount(model) * vb + 2 * model.nLayers * context * kvDim(model) * vb;
    return Math.max(1, Math.ceil(need / hw.hbmBytes));
  }
  const w = waferPreset(preset.id, catalog);
  const wafer = waferMesh(preset.id, precision, catalog);
  for (let n = Math.max(1, Math.ceil((parameterCount(model) * vb) / (w.cores * w.core.sramBytes))); n <= model.nLayers; n++) if (wholeWaferFits(model, wafer, n, context, vb)) return n;
  throw new WafermeshError('does-not-fit', `the model does not fit ${model.nLayers} ${hardware} wafers (one layer each)`);
}

function waferMesh(hardware: string, precision: Precision, catalog: Catalog) {
  const w = waferPreset(hardware, catalog);
  return makeMesh({ ...w.core, width: w.fullWidth, height: w.fullHeight, flopsPerCoreCycle: precision === 'fp32' ? w.core.flopsPerCoreCycle : 2 * w.core.flopsPerCoreCycle });
}

/**
 * The most streams one instance of `chips` holds at `context` positions each: a GPU's HBM less the
 * weights over one stream's KV cache; a wafer's SRAM as the whole-wafer tiling lays it out (the
 * streams' KV caches placed as one of streams × context positions), found by bisection.
 */
export function maxStreams(model: ModelConfig, hardware: string, chips: number, precision: Precision, context: number, catalog: Catalog = CATALOG): { streams: number; limit: string } {
  const preset = hardwarePreset(hardware, undefined, catalog);
  const vb = BYTES_PER_VALUE[precision];
  const kvStream = 2 * model.nLayers * context * kvDim(model) * vb;
  if (preset.kind === 'gpu') {
    const hw = gpuPreset(preset.id, catalog);
    const free = chips * hw.hbmBytes - parameterCount(model) * vb;
    const n = Math.floor(free / kvStream);
    return { streams: Math.max(0, n), limit: `HBM: ${chips} x ${(hw.hbmBytes / 1e9).toPrecision(3)} GB less the weights holds ${n} KV caches of ${(kvStream / 1e9).toPrecision(3)} GB` };
  }
  const wafer = waferMesh(preset.id, precision, catalog);
  if (!wholeWaferFits(model, wafer, chips, context, vb)) return { streams: 0, limit: `SRAM: one stream does not fit ${chips} wafer(s)` };
  let lo = 1;
  let hi = 2;
  while (hi < 1e6 && wholeWaferFits(model, wafer, chips, context * hi, vb)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wholeWaferFits(model, wafer, chips, context * mid, vb)) lo = mid;
    else hi = mid;
  }
  return { streams: lo, limit: `SRAM: the fullest core of ${chips} wafer(s) tiled whole holds the weights and ${lo} KV caches of ${context} positions (${(kvStream / 1e9).toPrecision(3)} GB each), not ${lo + 1}` };
}

/**
 * Decode pool: instances enough for S streams, each batching its share — as many as an instance
 * holds, or with `minSpeed` the most that keep every stream at that speed (`speedOf` turns a batch
 * and its step into a stream's speed).
 */
function decodePool(
  name: string,
  model: ModelConfig,
  hardware: string,
  chips: number,
  req: ServeRequest,
  speedOf: (batch: number, step: Prediction) => number,
  wholeOnly = false,
  /** Whether an instance can also do what it must beside a batch of this size (a monolithic wafer: the prompt's tiles fit the SRAM the batch leaves). */
  feasible: (batch: number, step: Prediction) => boolean = () => true,
): { pool: DecodePool; step: Prediction } {
  const precision = req.precision ?? 'fp16';
  // Each stream's KV cache is sized for its last position; the step is costed there (the slowest step of a stream's life).
  const context = req.prompt + req.output;
  const cap = maxStreams(model, hardware, chips, precision, context, req.catalog);
  if (cap.streams < 1) throw new WafermeshError('does-not-fit', `${name} with a ${context}-position KV cache does not fit ${chips} ${hardware}; give more chips (${cap.limit})`);
  const steps = new Map<number, ReturnType<typeof predict>>();
  const wafer = hardwarePreset(hardware, undefined, req.catalog).kind === 'wafer';
  const stepOf = (b: number) => {
    if (!steps.has(b)) {
      const base = { chips, precision, context, batch: b, catalog: req.catalog, allreduce: req.allreduce };
      // A wafer: the placement search ranks placements by one token; a batch multiplies compute and
      // link serialisation, so whole-wafer tiling can overtake it — the faster of the two is taken.
      const searched = predict(name, model, hardware, wafer && wholeOnly ? { ...base, placement: { kind: 'whole' } } : base);
      const whole = wafer && searched.placement?.kind !== 'whole' ? predict(name, model, hardware, { ...base, placement: { kind: 'whole' } }) : undefined;
      steps.set(b, whole && whole.ms_per_token < searched.ms_per_token ? whole : searched);
    }
    return steps.get(b)!;
  };
  let most = Math.min(cap.streams, req.streams);
  let meets: boolean | undefined;
  if (!feasible(1, stepOf(1))) throw new WafermeshError('does-not-fit', `one ${chips} x ${hardware} instance cannot hold ${name} and prefill a ${req.prompt}-token prompt beside one stream's KV cache; give more chips`);
  const fast = (b: number) => req.minSpeed === undefined || speedOf(b, stepOf(b)) >= req.minSpeed;
  if (req.minSpeed !== undefined) meets = fast(1);
  // Both fall as the batch grows (less SRAM left, a slower step): the largest batch that passes, by bisection.
  const keeps = (b: number) => feasible(b, stepOf(b)) && fast(b);
  {
    if (meets === false) most = 1;
    else if (!keeps(most)) {
      let lo = 1;
      let hi = most;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (keeps(mid)) lo = mid;
        else hi = mid;
      }
      most = lo;
    }
  }
  const instances = Math.ceil(req.streams / most);
  const streams = Math.ceil(req.streams / instances);
  const step = stepOf(streams);
  const pool: DecodePool = {
    hardware,
    chips_per_instance: chips,
    instances,
    footprint: footprintOf(hardware, instances * chips, req),
    streams_per_instance: streams,
    max_streams_per_instance: cap.streams,
    limit: cap.limit,
    step_ms: step.ms_per_token,
    step_bound: step.bound,
    ...(step.placement ? { placement: step.placement.label } : {}),
    ...(meets === undefined ? {} : { meets_min_speed: meets }),
  };
  return { pool, step };
}

/** The prompt's prefill; on a wafer beside `decode`'s batch (its placement and the SRAM its KV caches leave), else on whole-wafer tiling alone. */
function prefillOn(name: string, model: ModelConfig, hardware: string, chips: number, req: ServeRequest, decode?: Prediction): PrefillPrediction {
  const wafer = hardwarePreset(hardware, undefined, req.catalog).kind === 'wafer';
  return predictPrefill(name, model, req.prompt, hardware, { chips, precision: req.precision ?? 'fp16', catalog: req.catalog, allreduce: req.allreduce, ...(wafer ? { placement: { kind: 'whole' }, ...(decode ? { decode } : {}) } : {}) });
}

/** The prefill beside a batch, or undefined where its tiles do not fit the SRAM the batch leaves. */
function prefillBeside(name: string, model: ModelConfig, hardware: string, chips: number, req: ServeRequest, step: Prediction): PrefillPrediction | undefined {
  try {
    return prefillOn(name, model, hardware, chips, req, step);
  } catch (e) {
    if (e instanceof WafermeshError && e.code === 'does-not-fit') return undefined;
    throw e;
  }
}

function metrics(throughput: number, f: Footprint) {
  return { tokens_per_s_per_kw: round(throughput / f.power_kw), tokens_per_s_per_rack_unit: round(throughput / f.rack_units), tokens_per_s_per_chip: round(throughput / f.chips) };
}

/**
 * Monolithic: each instance prefills a new stream's prompt (the batch's decode paused) and decodes
 * its batch of B streams. In steady state an instance finishes B streams every B·t_prefill + M·t_step:
 * throughput = S·M ÷ (B·t_prefill + M·t_step) over all instances; a stream decodes at 1 ÷ t_step.
 */
export function monolithic(name: string, model: ModelConfig, hardware: string, chips: number, req: ServeRequest): ServeConfig {
  // A wafer that prefills and decodes keeps one layout for both, whole-wafer tiling (where its
  // prefill is fastest), and prefills in the SRAM its batch's KV caches leave (the prompt cut
  // into chunks where its tiles need it); a batch whose KV caches leave no room is too big.
  const wafer = hardwarePreset(hardware, undefined, req.catalog).kind === 'wafer';
  const alone = wafer ? undefined : prefillOn(name, model, hardware, chips, req);
  const pfs = new Map<number, PrefillPrediction | undefined>();
  const pfAt = (b: number, step: Prediction) => {
    if (alone) return alone;
    if (!pfs.has(b)) pfs.set(b, prefillBeside(name, model, hardware, chips, req, step));
    return pfs.get(b);
  };
  const { pool: decode, step } = decodePool(
    name,
    model,
    hardware,
    chips,
    req,
    (b, step) => req.output / ((b * pfAt(b, step)!.ttft_ms + req.output * step.ms_per_token) / 1e3),
    true,
    (b, step) => pfAt(b, step) !== undefined,
  );
  const pf = alone ?? pfAt(decode.streams_per_instance, step)!;
  const B = decode.streams_per_instance;
  const cycle = (B * pf.ttft_ms + req.output * decode.step_ms) / 1e3;
  const perStreamAverage = req.output / cycle;
  const throughput = req.streams * perStreamAverage;
  return {
    kind: 'monolithic',
    label: `${decode.instances} x ${chips} ${hardware}`,
    prefill: { hardware, chips_per_instance: chips, instances: decode.instances, footprint: decode.footprint, ttft_ms: pf.ttft_ms, prefill_tokens_per_s: pf.prefill_tokens_per_s, bound: pf.bound },
    decode,
    ttft_ms: pf.ttft_ms,
    per_stream_tokens_per_s: round(1000 / decode.step_ms),
    per_stream_average_tokens_per_s: round(perStreamAverage),
    throughput_tokens_per_s: round(throughput),
    footprint: decode.footprint,
    ...metrics(throughput, decode.footprint),
  };
}

/**
 * Disaggregated: the decode pool only decodes (S streams at 1 ÷ t_step each); the prefill pool
 * prefills one prompt at a time per instance and must start a stream as often as one finishes,
 * S ÷ (M·t_step) a second, so it needs ⌈S·t_prefill ÷ (M·t_step)⌉ instances. TTFT = prefill + the
 * KV transfer.
 */
export function disaggregated(name: string, model: ModelConfig, prefillHw: string, prefillChips: number, decodeHw: string, decodeChips: number, req: ServeRequest): ServeConfig {
  const precision = req.precision ?? 'fp16';
  const catalog = req.catalog ?? CATALOG;
  const { pool: decode } = decodePool(name, model, decodeHw, decodeChips, req, (_b, step) => 1000 / step.ms_per_token);
  const pf = prefillOn(name, model, prefillHw, prefillChips, req);
  const pk = hardwarePreset(prefillHw, undefined, catalog).kind;
  const dk = hardwarePreset(decodeHw, undefined, catalog).kind;
  const fabricOf = (hw: string) => {
    const w = waferPreset(hw, catalog);
    return { width: w.fullWidth, height: w.fullHeight, clockHz: w.core.clockHz, bw: w.core.wordsPerLinkCycle, hop: w.core.cyclesPerHop };
  };
  const kv = kvTransfer(model, req.prompt, precision, { prefillWafer: pk === 'wafer', decodeWafer: dk === 'wafer' }, catalog, dk === 'wafer' ? fabricOf(decodeHw) : pk === 'wafer' ? fabricOf(prefillHw) : undefined);
  const stepS = decode.step_ms / 1e3;
  const prefillInstances = Math.max(1, Math.ceil((req.streams * (pf.ttft_ms / 1e3)) / (req.output * stepS)));
  const prefill: PrefillPool = {
    hardware: prefillHw,
    chips_per_instance: prefillChips,
    instances: prefillInstances,
    footprint: footprintOf(prefillHw, prefillInstances * prefillChips, req),
    ttft_ms: pf.ttft_ms,
    prefill_tokens_per_s: pf.prefill_tokens_per_s,
    bound: pf.bound,
  };
  const throughput = req.streams / stepS;
  const footprint = add(prefill.footprint, decode.footprint);
  return {
    kind: 'disaggregated',
    label: `${prefillInstances} x ${prefillChips} ${prefillHw} → ${decode.instances} x ${decodeChips} ${decodeHw}`,
    prefill,
    decode,
    kv_transfer: kv,
    ttft_ms: round(pf.ttft_ms + kv.ms),
    per_stream_tokens_per_s: round(1 / stepS),
    per_stream_average_tokens_per_s: round(1 / stepS),
    throughput_tokens_per_s: round(throughput),
    footprint,
    ...metrics(throughput, footprint),
  };
}

export interface ServeSetup {
  /** Monolithic on one hardware (`--hardware`), with chips per instance. */
  readonly hardware?: { readonly id: string; readonly chips?: number };
  /** A disaggregated pair (`--prefill`, `--decode`): also costed monolithic on each. */
  readonly prefill?: { readonly id: string; readonly chips?: number };
  readonly decode?: { readonly id: string; readonly chips?: number };
}

export function serve(name: string, model: ModelConfig, setup: ServeSetup, req: ServeRequest): ServePrediction {
  const catalog = req.catalog ?? CATALOG;
  const precision = req.precision ?? 'fp16';
  for (const [flag, v, max] of [['--streams', req.streams, 1e6], ['--prompt', req.prompt, model.seqLen], ['--output', req.output, model.seqLen]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new WafermeshError('bad-option', `${flag} ${v} must be a whole number in 1…${max}`);
  }
  if (req.minSpeed !== undefined && !(req.minSpeed > 0 && Number.isFinite(req.minSpeed))) throw new WafermeshError('bad-option', `--min-speed ${req.minSpeed} must be a positive number of tokens/s`);
  if (req.prompt + req.output > model.seqLen) throw new WafermeshError('bad-option', `--prompt ${req.prompt} + --output ${req.output} is more than the model's ${model.seqLen} positions`);
  // Every hardware named needs its system's figures: refused before any work.
  for (const x of [setup.hardware, setup.prefill, setup.decode]) if (x) systemOf(hardwarePreset(x.id, undefined, catalog).id, req);
  const ctx = req.prompt + req.output;
  const chipsOf = (x: { id: string; chips?: number }) => x.chips ?? fewestChips(model, x.id, precision, ctx, catalog);
  const configs: ServeConfig[] = [];
  const used = new Set<string>();
  if (setup.hardware) {
    configs.push(monolithic(name, model, setup.hardware.id, chipsOf(setup.hardware), req));
    used.add(setup.hardware.id);
  }
  if (setup.prefill && setup.decode) {
    const pc = chipsOf(setup.prefill);
    const dc = chipsOf(setup.decode);
    for (const [id, c] of [[setup.prefill.id, pc], [setup.decode.id, dc]] as const) {
      if (!used.has(id)) configs.push(monolithic(name, model, id, c, req));
      used.add(id);
    }
    configs.push(disaggregated(name, model, setup.prefill.id, pc, setup.decode.id, dc, req));
  }
  const systems: ServePrediction['systems'] = {};
  for (const c of configs) {
    for (const hw of [c.prefill.hardware, c.decode.hardware]) {
      const s = systemOf(hw, req);
      systems[hw] = { name: s.name, chips: s.chips.value, power_w: s.powerW.value, rack_units: s.rackUnits.value, sources: [s.chips, s.powerW, s.rackUnits].map((f) => `${f.assumed ? 'assumed: ' : ''}${f.source}`) };
    }
  }
  return {
    model: name,
    precision,
    streams: req.streams,
    prompt: req.prompt,
    output: req.output,
    ...(req.minSpeed === undefined ? {} : { min_speed: req.minSpeed }),
    configs,
    systems,
    assumptions: [
      `every stream: a ${req.prompt}-position prompt, then ${req.output} output tokens; its KV cache sized for ${ctx} positions, every decode step costed at the last position (the slowest of its life)`,
      'monolithic: an instance pauses its batch to prefill each new stream (one prompt at a time) — it finishes B streams every B·t_prefill + M·t_step, so a stream averages M ÷ (B·t_prefill + M·t_step) tokens/s and the S streams S times that',
      'disaggregated: the decode pool only decodes (every stream 1 ÷ t_step); the prefill pool starts streams as fast as they finish, ⌈S·t_prefill ÷ (M·t_step)⌉ instances, one prompt at a time each; the KV transfer and a wafer taking it in overlap the decode of the other streams',
      req.minSpeed === undefined
        ? 'streams are spread evenly over the fewest instances that hold them (the most streams an instance holds: HBM less the weights on a GPU, SRAM on a wafer); each instance holds its own copy of the weights'
        : `every stream kept at ${req.minSpeed} tokens/s or more (--min-speed; monolithic: its average, prefill pauses included): an instance takes the most streams that keep it (no more than it holds: HBM less the weights on a GPU, SRAM on a wafer), and the streams are spread evenly over the instances that takes; each instance holds its own copy of the weights`,
      'GPUs batch: weights read once a step for the batch, each stream\'s K and V, the batch\'s FLOPs at the dense peak (a kernel takes the longer); wafers batch: weights in place, the batch\'s activations streamed through — compute and link serialisation times the batch, hop latency and ramp relays once — a wafer that only decodes on the faster of the placement search\'s choice and whole-wafer tiling (the search ranks by one token), a wafer that also prefills on whole-wafer tiling for both phases (its weights stay in one place; its prefill is fastest there), its prefill\'s tiles in the SRAM its batch\'s KV caches leave (the prompt cut into chunks where they need it; a batch that leaves no room for them is not taken); the streams an instance holds are counted on whole-wafer tiling; a pipelined placement\'s regions work one after another (streams in different regions at once are not modelled)',
      'footprint: chips × (the system\'s power and rack units ÷ its chips); the figures per system are listed with their sources (some assumed) and can be given (--system-power HW=W, --system-rack-units HW=U)',
      'all modelled: no published speed is an input',
    ],
    left_out: [
      'queueing: streams arrive exactly as fast as they are served (TTFT has no wait in a queue)',
      'chunked prefill mixed into decode steps (monolithic engines such as vLLM and SGLang do it): the decode pauses for a whole prompt here',
      'batching several prompts in one prefill (a long prompt is compute-bound already on GPUs)',
      'host, network switches and storage beyond what a system\'s figures include',
      'prefix caching, speculative decoding and quantisation other than --precision',
    ],
  };
}
