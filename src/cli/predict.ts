import { allreduceIds, CATALOG, hardwarePreset, type LinkFigures } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { BYTES_PER_VALUE, type Precision } from '../cost/model.ts';
import { draftModel, formatBytes, predict, SPECULATIVE_DEFAULTS, type PlacementResult, type Prediction } from '../cost/predict.ts';
import { parsePlacement } from '../cost/placement-search.ts';
import { kvTransfer, predictPrefill, type KvTransfer, type PrefillPrediction } from '../cost/prefill.ts';
import { fewestChips, serve, type ServePrediction } from '../cost/serve.ts';
import { waferPreset } from '../cost/hardware.ts';
import { validate, type Validation } from '../cost/validate.ts';
import { parseMeshSize } from '../mesh/config.ts';
import { parameterCount } from '../model/config.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import type { Command } from './command.ts';
import { loadConfig } from './load.ts';
import { CHOICES, numberOption } from './options.ts';

/** The validation table as text: one row per published figure, the geometric-mean error below. */
export function validationTable(v: Validation): string {
  const head = ['case', 'model', 'hardware', 'prec', 'ctx', 'spec', 'ours tok/s', 'theirs tok/s', 'ours/theirs'];
  const rows = v.rows.map((r) => [
    r.id,
    r.model,
    `${r.chips} x ${r.hardware}`,
    r.precision,
    String(r.context),
    r.speculative ? 'yes' : '-',
    String(r.ours),
    String(r.theirs),
    r.ratio.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([4, 6, 7, 8]);
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [
    `predict --validate: ${v.metric}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `geometric-mean error (the geometric mean of max(ours/theirs, theirs/ours) over ${v.rows.length} rows): ${v.geomean_error.toFixed(2)}x; worst ${v.worst.id} (${v.worst.error.toFixed(2)}x)`,
    `speculative rows use the one default draft length and acceptance: ${SPECULATIVE_DEFAULTS.sources}`,
    'GPU rows stream weights and the KV cache from HBM at, per chip:',
    ...v.hbm_bandwidth.map((b) =>
      b.kind === 'sustained'
        ? `  ${b.hardware}: ${b.bytes_per_s / 1e12} TB/s sustained (datasheet peak ${b.peak_bytes_per_s / 1e12} TB/s), ${b.source}`
        : `  ${b.hardware}: ${b.bytes_per_s / 1e12} TB/s, the datasheet peak (no measured sustained figure in the catalog), ${b.source}`,
    ),
    '',
    'sources and setups (the published numbers live in src/cost/published.ts; the prediction reads only the setup):',
  ];
  for (const r of v.rows) {
    out.push(`  ${r.id}: ${r.source}`, `    ${r.url}`, `    setup: ${r.setup_note}`);
    if (r.note) out.push(`    known gap: ${r.note}`);
  }
  return out.join('\n');
}

/**
 * The placements tried, as a table: the fastest ten, the best of each kind and whole-wafer tiling
 * beside them, then a count of the rest and a few that do not fit with their bytes.
 */
export function placementTable(p: Prediction): string {
  const all = p.placements ?? [];
  if (all.length === 0) return '';
  const fitting = all.filter((x) => x.fits);
  const shown: PlacementResult[] = fitting.slice(0, 10);
  const add = (x: PlacementResult | undefined) => {
    if (x && !shown.includes(x)) shown.push(x);
  };
  for (const kind of ['whole', 'subgrid', 'pipelined'] as const) add(fitting.find((x) => x.kind === kind));
  const unfit = all.filter((x) => !x.fits);
  add(unfit.find((x) => x.kind === 'whole'));
  const head = ['', 'placement', 'region', 'G', 'regions', 'fullest core', 'hand-offs', 'tok/s (modelled)', 'ms/token'];
  const rows = shown.map((x) => [
    x.label === p.placement?.label ? '*' : '',
    x.kind,
    `${x.region.width}x${x.region.height}${x.grid ? ` (${x.grid.across}x${x.grid.down})` : ''}`,
    String(x.layers_per_region),
    `${x.regions_per_wafer}${x.tables === 'own regions' ? ' +tables' : ''}`,
    `${formatBytes(x.fullest_core_bytes)} / ${formatBytes(x.sram_bytes)}`,
    x.handoffs ? `${x.handoffs.count}: ${x.handoffs.cycles.toLocaleString('en')} cyc` : '-',
    x.tokens_per_s !== undefined ? String(x.tokens_per_s) : 'does not fit',
    x.ms_per_token !== undefined ? String(x.ms_per_token) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([3, 4, 5, 6, 7, 8]);
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [
    `placements tried (modelled, one token; * = taken; G = layers per region; regions = on the fullest wafer, +tables: the embedding and classifier in regions of their own):`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ];
  const hidden = all.length - shown.length;
  if (hidden > 0) out.push(`${hidden} more tried (${fitting.length} fit in all, ${unfit.length} do not, the nearest misses below; --json lists every one)`);
  for (const x of unfit.filter((u) => !shown.includes(u)).slice(0, 3)) out.push(`  does not fit: ${x.label}: ${x.why}`);
  for (const x of shown.filter((u) => !u.fits)) out.push(`  does not fit: ${x.label}: ${x.why}`);
  return out.join('\n');
}

/** Prefill at real scale as text: TTFT, tokens/s, where the time goes, each product's cost (and on a wafer which algorithm won). */
export function prefillText(f: PrefillPrediction): string {
  const out = [
    `prefill of ${f.prompt} positions on ${f.chips} x ${f.hardware}${f.region ? ` (each layer on its ${f.region.width} x ${f.region.height} region)` : ''}, ${f.precision}: time to first token ${f.ttft_ms} ms, ${f.prefill_tokens_per_s} prompt tokens/s, bound by ${f.bound} (modelled)`,
    'where the prefill time goes (ms):',
  ];
  const w = Math.max(28, ...Object.keys(f.time_breakdown_ms).map((k) => k.length));
  for (const [k, ms] of Object.entries(f.time_breakdown_ms)) out.push(`  ${k.padEnd(w)} ${ms}`);
  out.push('products (ms each):');
  for (const g of f.gemms) {
    const how = g.algorithm
      ? g.algorithm === 'matvec'
        ? 'matrix-vector in place'
        : `${g.algorithm === 'meshgemm' ? 'MeshGEMM' : 'SUMMA'} (MeshGEMM ${g.meshgemm_cycles?.toLocaleString('en') ?? 'does not fit'}${g.meshgemm_cycles !== undefined ? ' cycles' : ''}, SUMMA ${g.summa_cycles?.toLocaleString('en') ?? 'does not fit'})${g.chunks ? `, the prompt in ${g.chunks} chunks to fit the SRAM` : ''}`
      : `${g.bound}-bound`;
    out.push(`  ${g.name}: ${g.m} x ${g.k} x ${g.n}, ${g.count} times: ${g.ms} ms, ${how}`);
  }
  out.push('prefill assumptions (modelled, not measured):', ...f.assumptions.map((a) => `  - ${a}`), 'left out of the prefill:', ...f.left_out.map((a) => `  - ${a}`));
  return out.join('\n');
}

/** The serving view as text: one row per configuration, then the footprint inputs and the assumptions. */
export function serveText(v: ServePrediction): string {
  const head = ['configuration', 'chips', 'kW', 'RU', 'streams/inst (max)', 'TTFT ms', 'tok/s a stream', 'avg', 'tok/s all', 'tok/s per kW', 'per RU'];
  const rows = v.configs.map((c) => [
    `${c.kind} ${c.label}${c.decode.meets_min_speed === false ? ' (below --min-speed)' : ''}`,
    String(c.footprint.chips),
    String(c.footprint.power_kw),
    String(c.footprint.rack_units),
    `${c.decode.streams_per_instance} (${c.decode.max_streams_per_instance})`,
    String(c.ttft_ms),
    String(c.per_stream_tokens_per_s),
    String(c.per_stream_average_tokens_per_s),
    String(c.throughput_tokens_per_s),
    String(c.tokens_per_s_per_kw),
    String(c.tokens_per_s_per_rack_unit),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const out = [
    `serving ${v.model} at ${v.precision}: ${v.streams} streams, each a ${v.prompt}-token prompt then ${v.output} output tokens (modelled)`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    'tok/s a stream: while it decodes (1 ÷ the batch step); avg: over its output, pauses for other streams\' prefills included; tok/s all: every stream together',
  ];
  for (const c of v.configs) {
    if (c.decode.meets_min_speed === false) out.push(`${c.kind} ${c.label}: does not keep ${v.min_speed} tokens/s a stream even with one stream an instance`);
    out.push(`${c.kind} ${c.label}: decode step ${c.decode.step_ms} ms for ${c.decode.streams_per_instance} streams, bound by ${c.decode.step_bound}${c.decode.placement ? ` (placement ${c.decode.placement})` : ''}; ${c.decode.limit}; prefill ${c.prefill.ttft_ms} ms (${c.prefill.prefill_tokens_per_s} tokens/s, bound by ${c.prefill.bound})`);
    if (c.kv_transfer) out.push(`  KV cache ${formatBytes(c.kv_transfer.bytes)} a stream: ${c.kv_transfer.ms} ms, bound by ${c.kv_transfer.bound} (network ${c.kv_transfer.network_ms} ms${c.kv_transfer.wafer_edge_ms !== undefined ? `, wafer edge ${c.kv_transfer.wafer_edge_ms} ms, fabric ${c.kv_transfer.fabric_ms} ms` : ''})`);
  }
  const dis = v.configs.find((c) => c.kind === 'disaggregated');
  if (dis) {
    for (const m of v.configs.filter((c) => c.kind === 'monolithic')) {
      out.push(
        `disaggregated ÷ monolithic ${m.decode.hardware}: ${(dis.tokens_per_s_per_rack_unit / m.tokens_per_s_per_rack_unit).toFixed(2)}x the tokens/s per rack unit, ${(dis.tokens_per_s_per_kw / m.tokens_per_s_per_kw).toFixed(2)}x per kW, ${(dis.per_stream_average_tokens_per_s / m.per_stream_average_tokens_per_s).toFixed(2)}x a stream's average speed${m.decode.meets_min_speed === false ? ` (monolithic ${m.decode.hardware} does not keep ${v.min_speed} tokens/s a stream)` : ''}${dis.decode.meets_min_speed === false ? ` (the disaggregated pair does not keep ${v.min_speed} tokens/s a stream)` : ''}`,
      );
    }
  }
  out.push('footprint inputs (per system; flags --system-power HW=W and --system-rack-units HW=U override them):');
  for (const [hw, s] of Object.entries(v.systems)) out.push(`  ${hw}: ${s.name}: ${s.chips} chip(s), ${s.power_w} W, ${s.rack_units} RU`, ...s.sources.map((x) => `    ${x}`));
  out.push('assumptions (modelled, not measured):', ...v.assumptions.map((a) => `  - ${a}`), 'left out:', ...v.left_out.map((a) => `  - ${a}`));
  return out.join('\n');
}

/** `HW=NUMBER[,HW=NUMBER]` for --system-power and --system-rack-units. */
function perHardware(flag: string, v: unknown): Record<string, number> | undefined {
  if (v === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of String(v).split(',')) {
    const m = /^\s*([\w.-]+)\s*=\s*([0-9.eE+]+)\s*$/.exec(part);
    const n = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(n) || n <= 0) throw new WafermeshError('bad-option', `--${flag} "${String(v)}" is not HW=NUMBER[,HW=NUMBER], e.g. wse-3=23000,h100=10200`);
    hardwarePreset(m[1]);
    out[m[1].toLowerCase()] = n;
  }
  return out;
}

function printPrediction(p: Prediction): void {
  const region = p.mesh ? ` (${p.mesh.width} x ${p.mesh.height} cores)` : '';
  console.log(`${p.model} on ${p.chips} x ${p.hardware}${region}, ${p.precision}, context ${p.context}: ${p.tokens_per_s} tokens/s (${p.ms_per_token} ms/token), bound by ${p.bound}`);
  if (p.placement) console.log(`placement: ${p.placement.label}`);
  if (p.speculative) {
    const s = p.speculative;
    console.log(
      `speculative: draft ${s.draft}, γ = ${s.draft_tokens}, α = ${s.acceptance}: ${s.tokens_per_step} tokens per ${s.step_ms} ms step (draft ${s.draft_ms_per_token} ms/token, verify ${s.verify_ms} ms); without it ${s.plain_tokens_per_s} tokens/s`,
    );
  }
  console.log('where the time goes (ms/token):');
  const w = Math.max(28, ...Object.keys(p.time_breakdown_ms).map((k) => k.length));
  for (const [k, ms] of Object.entries(p.time_breakdown_ms)) console.log(`  ${k.padEnd(w)} ${ms}`);
  console.log(`energy: ${p.energy_per_token_j} J/token`);
  const table = placementTable(p);
  if (table) console.log(table);
  console.log('assumptions (modelled, not measured):');
  for (const a of p.assumptions) console.log(`  - ${a}`);
}

export const predictCommand: Command = {
  summary:
    'single-stream decode tokens/s of a real model on a wafer or GPUs, from first principles, with every assumption; --prompt adds the prefill (time to first token), --prefill/--decode a disaggregated pair, --serve many streams with their footprint; --validate holds decode against published measurements',
  usage:
    '[--model NAME|PATH] [--hardware NAME] [--chips N] [--precision fp16|fp8|fp32] [--context N] [--allreduce NAME] [--placement whole|subgrid|pipelined[:G]] [--cores WxH] [--draft NAME [--acceptance A] [--draft-tokens N]] [--prompt N] [--prefill NAME --decode NAME [--prefill-chips N] [--decode-chips N]] [--serve --streams S --prompt N --output M [--min-speed T] [--system-power HW=W,…] [--system-rack-units HW=U,…]] [--validate] [--json]',
  options: {
    model: { type: 'string', default: CATALOG.defaults.predictModel },
    hardware: { type: 'string', default: CATALOG.defaults.predictHardware },
    chips: { type: 'string', default: '1' },
    precision: { type: 'string', default: 'fp16' },
    context: { type: 'string' },
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    cores: { type: 'string' },
    placement: { type: 'string' },
    draft: { type: 'string' },
    acceptance: { type: 'string' },
    'draft-tokens': { type: 'string' },
    prompt: { type: 'string' },
    prefill: { type: 'string' },
    decode: { type: 'string' },
    'prefill-chips': { type: 'string' },
    'decode-chips': { type: 'string' },
    serve: { type: 'boolean' },
    streams: { type: 'string' },
    output: { type: 'string' },
    'min-speed': { type: 'string' },
    'system-power': { type: 'string' },
    'system-rack-units': { type: 'string' },
    validate: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, hardware: CHOICES.hardware, allreduce: CHOICES.allreduce, prefill: CHOICES.hardware, decode: CHOICES.hardware },
  descriptions: {
    model: 'the model: a catalog name (a published shape), a llama2.c checkpoint PATH, or random:<spec>',
    hardware: 'the hardware preset: a wafer (wse-2, wse-3, …) or a GPU or other off-chip-memory accelerator (h100, h200, b200, a100, mi300x, trainium2)',
    chips: 'chips the model is split over: GPUs in tensor parallel, or wafers chained layer by layer (pipeline)',
    precision: 'bytes per weight and KV value: fp32 (4), fp16 (2) or fp8 (1)',
    context: "positions in the KV cache; the token is decoded at the last (default: the model's seq_len, up to 1024; with --prompt N, N + 1)",
    allreduce: 'wafers: how allreduces run on the fabric: chain, ring or ktree',
    placement:
      'wafers: force a placement instead of the fastest found — whole (every layer tiled over the whole wafer), subgrid (over the best smaller block), pipelined (each group of layers on its own region, the activation handed from region to region) or pipelined:G (G layers per region)',
    cores: 'wafers: place the model on a WIDTHxHEIGHT region of each wafer instead of the whole fabric, e.g. 600x600',
    draft: 'speculative decoding: the draft model (a catalog name with a published shape), run on the same hardware',
    acceptance: `speculative decoding: α, the chance a drafted token is accepted, in [0, 1) (default ${SPECULATIVE_DEFAULTS.acceptance}, our assumption)`,
    'draft-tokens': `speculative decoding: γ, tokens drafted per step (default ${SPECULATIVE_DEFAULTS.draftTokens}, gpt-fast's default)`,
    prompt: 'prompt positions: adds the prefill — time to first token and prompt tokens/s — on the hardware (GPUs: GEMMs at the dense peak or bound by HBM; wafers: MeshGEMM or SUMMA per product, weights in place)',
    prefill: 'a disaggregated pair: the hardware that prefills the prompt (with --decode and --prompt); its KV cache crosses the network (and a wafer\'s edge I/O) to the decoder',
    decode: 'a disaggregated pair: the hardware that decodes (with --prefill)',
    'prefill-chips': 'chips of one prefill instance (default: the fewest that hold the model and the KV cache)',
    'decode-chips': 'chips of one decode instance (default: the fewest that hold the model and the KV cache)',
    serve: 'the serving view: --streams S streams of --prompt N then --output M tokens, monolithic on --hardware (or on each of --prefill and --decode) and disaggregated (--prefill, --decode); throughput, speed per stream and the footprint',
    streams: 'the serving view: streams served at once (default 1)',
    output: 'the serving view: output tokens a stream decodes',
    'min-speed': 'the serving view: output tokens/s every stream must keep (monolithic: its average, prefill pauses included); an instance then takes only the streams that keep it (default: as many as it holds)',
    'system-power': "the serving view: a system's power in watts per hardware, HW=W[,HW=W] (default: the catalog's, sourced or assumed)",
    'system-rack-units': "the serving view: a system's rack units per hardware, HW=U[,HW=U] (default: the catalog's)",
    validate: 'print our predictions beside published measurements (src/cost/published.ts) at their setups, with the geometric-mean error; other options are ignored',
    json: 'print one JSON object instead of text',
  },
  async run(v) {
    if (v.validate) {
      const table = validate();
      console.log(v.json ? JSON.stringify(table) : validationTable(table));
      return 0;
    }
    const name = String(v.model);
    const model = loadConfig(name).config;
    const precision = String(v.precision) as Precision;
    if (!(precision in BYTES_PER_VALUE)) throw new WafermeshError('bad-option', `--precision ${precision} is not one of fp32, fp16, fp8`);
    const allreduce = (String(v.allreduce) === 'tree' ? 'ktree' : String(v.allreduce)) as Allreduce;
    const algorithms = allreduceIds();
    if (!algorithms.includes(allreduce)) throw new WafermeshError('bad-option', `--allreduce ${allreduce} is not one of ${algorithms.join(', ')}`);
    let mesh: { width: number; height: number } | undefined;
    if (v.cores !== undefined) {
      try {
        mesh = parseMeshSize(String(v.cores));
      } catch {
        throw new WafermeshError('bad-option', `--cores "${String(v.cores)}" is not WIDTHxHEIGHT, e.g. 600x600`);
      }
      // Within the wafer's own fabric, named by the option (not the mesh's field names).
      const hw = hardwarePreset(String(v.hardware).toLowerCase());
      if (hw.kind === 'wafer') {
        const f = waferPreset(hw.id);
        if (mesh.width < 1 || mesh.height < 1 || mesh.width > f.fullWidth || mesh.height > f.fullHeight) {
          throw new WafermeshError('bad-option', `--cores ${mesh.width}x${mesh.height} is not a block of the ${hw.id}'s ${f.fullWidth} x ${f.fullHeight} fabric; use 1…${f.fullWidth} by 1…${f.fullHeight}`);
        }
      }
    }
    if (v.draft === undefined && (v.acceptance !== undefined || v['draft-tokens'] !== undefined)) {
      throw new WafermeshError('bad-option', '--acceptance and --draft-tokens need --draft NAME (the draft model)');
    }
    const draft = v.draft === undefined ? undefined : String(v.draft);
    if (draft !== undefined) {
      // A draft proposes tokens the target checks: it must share the target's vocabulary and be smaller.
      const d = loadConfig(draft).config;
      if (d.vocabSize !== model.vocabSize) throw new WafermeshError('bad-option', `--draft ${draft}: its vocabulary (${d.vocabSize} ids) is not ${name}'s (${model.vocabSize}); a draft must share the target's tokenizer`);
      if (parameterCount(d) >= parameterCount(model)) throw new WafermeshError('bad-option', `--draft ${draft}: it is not smaller than ${name} (${parameterCount(d).toLocaleString('en')} parameters against ${parameterCount(model).toLocaleString('en')}); use a smaller draft`);
    }
    const placement = v.placement === undefined ? undefined : parsePlacement(String(v.placement));
    // Prefill, the disaggregated pair and the serving view: every combination checked before any work.
    const prompt = v.prompt === undefined ? undefined : numberOption('prompt', v.prompt, 0, true);
    if (prompt !== undefined && (prompt < 1 || prompt > model.seqLen)) throw new WafermeshError('bad-option', `--prompt ${prompt} must be a whole number in 1…${model.seqLen} (the model's seq_len)`);
    const pair = v.prefill !== undefined || v.decode !== undefined;
    if (pair && (v.prefill === undefined || v.decode === undefined)) throw new WafermeshError('bad-option', '--prefill and --decode go together: name the hardware that prefills and the one that decodes');
    if (!pair && (v['prefill-chips'] !== undefined || v['decode-chips'] !== undefined)) throw new WafermeshError('bad-option', '--prefill-chips and --decode-chips need --prefill NAME --decode NAME');
    if (!v.serve) {
      for (const f of ['streams', 'output', 'min-speed', 'system-power', 'system-rack-units']) if (v[f] !== undefined) throw new WafermeshError('bad-option', `--${f} is for the serving view; add --serve`);
    }
    if ((pair || v.serve) && prompt === undefined) throw new WafermeshError('bad-option', `${v.serve ? '--serve' : '--prefill and --decode'} need${v.serve ? 's' : ''} --prompt N (the prompt's positions)`);
    if (v.serve && v.output === undefined) throw new WafermeshError('bad-option', '--serve needs --output M (output tokens a stream decodes)');
    if ((pair || v.serve) && (draft !== undefined || mesh !== undefined || placement !== undefined || v.context !== undefined)) {
      throw new WafermeshError('bad-option', `--draft, --cores, --placement and --context apply to one machine's decode; leave them out with ${v.serve ? '--serve' : '--prefill and --decode'}`);
    }
    const prefillHw = pair ? String(v.prefill).toLowerCase() : undefined;
    const decodeHw = pair ? String(v.decode).toLowerCase() : undefined;
    if (prefillHw) hardwarePreset(prefillHw);
    if (decodeHw) hardwarePreset(decodeHw);
    const prefillChips = v['prefill-chips'] === undefined ? undefined : numberOption('prefill-chips', v['prefill-chips'], 1, true);
    const decodeChips = v['decode-chips'] === undefined ? undefined : numberOption('decode-chips', v['decode-chips'], 1, true);
    for (const [f, n] of [['prefill-chips', prefillChips], ['decode-chips', decodeChips]] as const) {
      if (n !== undefined && (n < 1 || n > 1024)) throw new WafermeshError('bad-option', `--${f} ${n} must be a whole number in 1…1024`);
    }
    const chips = numberOption('chips', v.chips, 1, true);
    if (v.serve) {
      const streams = numberOption('streams', v.streams, 1, true);
      const output = numberOption('output', v.output, 0, true);
      const minSpeed = v['min-speed'] === undefined ? undefined : numberOption('min-speed', v['min-speed'], 0);
      const systemPowerW = perHardware('system-power', v['system-power']);
      const systemRackUnits = perHardware('system-rack-units', v['system-rack-units']);
      const result = serve(name, model, pair ? { prefill: { id: prefillHw!, chips: prefillChips }, decode: { id: decodeHw!, chips: decodeChips } } : { hardware: { id: String(v.hardware).toLowerCase(), chips } }, {
        streams,
        prompt: prompt!,
        output,
        precision,
        allreduce,
        systemPowerW,
        systemRackUnits,
        minSpeed,
      });
      console.log(v.json ? JSON.stringify(result) : serveText(result));
      return 0;
    }
    if (pair) {
      const pc = prefillChips ?? fewestChips(model, prefillHw!, precision, prompt!);
      const dc = decodeChips ?? fewestChips(model, decodeHw!, precision, Math.min(prompt! + 1, model.seqLen));
      const pf = predictPrefill(name, model, prompt!, prefillHw!, { chips: pc, precision, allreduce });
      const dec = predict(name, model, decodeHw!, { chips: dc, precision, allreduce, context: Math.min(prompt! + 1, model.seqLen) });
      const kindOf = (hw: string) => hardwarePreset(hw).kind;
      const waferSide = kindOf(decodeHw!) === 'wafer' ? decodeHw! : kindOf(prefillHw!) === 'wafer' ? prefillHw! : undefined;
      const fab = waferSide ? waferPreset(waferSide) : undefined;
      const kv: KvTransfer = kvTransfer(model, prompt!, precision, { prefillWafer: kindOf(prefillHw!) === 'wafer', decodeWafer: kindOf(decodeHw!) === 'wafer' }, CATALOG, fab ? { width: fab.fullWidth, height: fab.fullHeight, clockHz: fab.core.clockHz, bw: fab.core.wordsPerLinkCycle, hop: fab.core.cyclesPerHop } : undefined);
      const ttft = Number((pf.ttft_ms + kv.ms).toPrecision(4));
      const links = CATALOG.links;
      const result = {
        model: name,
        precision,
        prompt: prompt!,
        prefill: pf,
        kv_transfer: kv,
        ttft_ms: ttft,
        decode: dec,
        links: ([links.network, links.waferEdge] as LinkFigures[]).map((l) => ({ name: l.name, bytes_per_s: l.bytesPerS.value, source: l.bytesPerS.source, ...(l.latencyS ? { latency_s: l.latencyS.value, latency_source: l.latencyS.source } : {}) })),
      };
      if (v.json) {
        console.log(JSON.stringify(result));
        return 0;
      }
      console.log(`${name} disaggregated: prefill on ${pc} x ${prefillHw}, decode on ${dc} x ${decodeHw}, ${precision}, a ${prompt}-token prompt (modelled)`);
      console.log(`time to first token ${ttft} ms = prefill ${pf.ttft_ms} ms + KV transfer ${kv.ms} ms (${formatBytes(kv.bytes)}, bound by ${kv.bound}: network ${kv.network_ms} ms${kv.wafer_edge_ms !== undefined ? `, wafer edge ${kv.wafer_edge_ms} ms, then the wafer's fabric ${kv.fabric_ms} ms` : ''}); then ${dec.tokens_per_s} tokens/s (${dec.ms_per_token} ms/token) on ${decodeHw}, bound by ${dec.bound}`);
      console.log(`links: ${result.links.map((l) => `${l.name}: ${l.source}${l.latency_source ? `; latency ${l.latency_s! * 1e6} µs: ${l.latency_source}` : ''}`).join(' | ')}`);
      console.log(`KV transfer: the slower of the network (latency + bytes ÷ bandwidth) and a wafer's edge I/O (bytes ÷ its bandwidth), the links in series streaming at the slowest's pace; plus, on a wafer, its fabric carrying the words from the edge (estimate: words ÷ the edge's rows + its width in hops)`);
      console.log(prefillText(pf));
      console.log(`decode on ${decodeHw}:`);
      printPrediction(dec);
      return 0;
    }
    const p = predict(name, model, String(v.hardware).toLowerCase(), {
      chips: numberOption('chips', v.chips, 1, true),
      precision,
      context: v.context === undefined ? (prompt !== undefined ? Math.min(prompt + 1, model.seqLen) : undefined) : numberOption('context', v.context, 1024, true),
      allreduce,
      mesh,
      placement,
      speculative: draft
        ? {
            draft,
            draftModel: draftModel(draft),
            acceptance: numberOption('acceptance', v.acceptance, SPECULATIVE_DEFAULTS.acceptance),
            draftTokens: numberOption('draft-tokens', v['draft-tokens'], SPECULATIVE_DEFAULTS.draftTokens, true),
          }
        : undefined,
    });
    // A wafer that prefills and decodes keeps one placement for both: where the fastest placement for
    // decoding leaves too little SRAM for the prompt's tiles (and none was asked for), both run on
    // whole-wafer tiling, and the output says why.
    let decode = p;
    let pf: PrefillPrediction | undefined;
    let moved: string | undefined;
    if (prompt !== undefined) {
      const hw = String(v.hardware).toLowerCase();
      try {
        pf = predictPrefill(name, model, prompt, hw, { chips, precision, allreduce, mesh, placement, decode: p });
      } catch (e) {
        if (!(e instanceof WafermeshError && e.code === 'does-not-fit' && p.placement && !placement && !mesh && p.placement.kind !== 'whole')) throw e;
        decode = predict(name, model, hw, { chips, precision, allreduce, context: p.context, placement: { kind: 'whole' } });
        pf = predictPrefill(name, model, prompt, hw, { chips, precision, allreduce, placement: { kind: 'whole' }, decode });
        moved = `the fastest placement for decoding alone (${p.placement.label}: ${p.tokens_per_s} tokens/s) leaves ${p.placement.sram_bytes - p.placement.fullest_core_bytes} bytes a core free, too few for the prompt's tiles even a row at a time; the wafer prefills and decodes on whole-wafer tiling instead`;
      }
    }
    if (v.json) {
      console.log(JSON.stringify(pf ? { ...decode, prefill: pf, ...(moved ? { placement_for_prefill: moved, decode_alone: { placement: p.placement, tokens_per_s: p.tokens_per_s } } : {}) } : decode));
      return 0;
    }
    if (moved) console.log(moved);
    printPrediction(decode);
    if (pf) console.log(prefillText(pf));
    return 0;
  },
};
