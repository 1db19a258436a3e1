import { allreduceIds, CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { BYTES_PER_VALUE, type Precision } from '../cost/model.ts';
import { draftModel, formatBytes, predict, SPECULATIVE_DEFAULTS, type PlacementResult, type Prediction } from '../cost/predict.ts';
import { parsePlacement } from '../cost/placement-search.ts';
import { validate, type Validation } from '../cost/validate.ts';
import { parseMeshSize } from '../mesh/config.ts';
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
  summary: 'single-stream decode tokens/s of a real model on a wafer or GPUs, from first principles, with every assumption; --validate holds it against published measurements',
  usage:
    '[--model NAME|PATH] [--hardware NAME] [--chips N] [--precision fp16|fp8|fp32] [--context N] [--allreduce NAME] [--placement whole|subgrid|pipelined[:G]] [--cores WxH] [--draft NAME [--acceptance A] [--draft-tokens N]] [--validate] [--json]',
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
    validate: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, hardware: CHOICES.hardware, allreduce: CHOICES.allreduce },
  descriptions: {
    model: 'the model: a catalog name (a published shape), a llama2.c checkpoint PATH, or random:<spec>',
    hardware: 'the hardware preset: a wafer (wse-2, wse-3, …) or a GPU or other off-chip-memory accelerator (h100, h200, b200, a100, mi300x, trainium2)',
    chips: 'chips the model is split over: GPUs in tensor parallel, or wafers chained layer by layer (pipeline)',
    precision: 'bytes per weight and KV value: fp32 (4), fp16 (2) or fp8 (1)',
    context: "positions in the KV cache; the token is decoded at the last (default: the model's seq_len, up to 1024)",
    allreduce: 'wafers: how allreduces run on the fabric: chain, ring or ktree',
    placement:
      'wafers: force a placement instead of the fastest found — whole (every layer tiled over the whole wafer), subgrid (over the best smaller block), pipelined (each group of layers on its own region, the activation handed from region to region) or pipelined:G (G layers per region)',
    cores: 'wafers: place the model on a WIDTHxHEIGHT region of each wafer instead of the whole fabric, e.g. 600x600',
    draft: 'speculative decoding: the draft model (a catalog name with a published shape), run on the same hardware',
    acceptance: `speculative decoding: α, the chance a drafted token is accepted, in [0, 1) (default ${SPECULATIVE_DEFAULTS.acceptance}, our assumption)`,
    'draft-tokens': `speculative decoding: γ, tokens drafted per step (default ${SPECULATIVE_DEFAULTS.draftTokens}, gpt-fast's default)`,
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
    }
    if (v.draft === undefined && (v.acceptance !== undefined || v['draft-tokens'] !== undefined)) {
      throw new WafermeshError('bad-option', '--acceptance and --draft-tokens need --draft NAME (the draft model)');
    }
    const draft = v.draft === undefined ? undefined : String(v.draft);
    const placement = v.placement === undefined ? undefined : parsePlacement(String(v.placement));
    const p = predict(name, model, String(v.hardware).toLowerCase(), {
      chips: numberOption('chips', v.chips, 1, true),
      precision,
      context: v.context === undefined ? undefined : numberOption('context', v.context, 1024, true),
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
    if (v.json) {
      console.log(JSON.stringify(p));
      return 0;
    }
    printPrediction(p);
    return 0;
  },
};
