import type { Catalog, ServingMode } from '../worker/types.ts';

/**
 * The demo's state, all of it in the URL (a lesson or a bug report is a link). Parsing never
 * throws: a bad value falls back to the default and yields a one-line message naming it. The
 * models, presets and algorithms it accepts, and its defaults, come from the catalog the worker
 * serves; nothing here names one.
 */
export interface AppState {
  model: string; // a demo model of the catalog | random:<spec> | file
  prompt: string;
  tokens: number;
  temperature: number;
  topP: number;
  seed: number;
  mesh: { width: number; height: number };
  preset: string; // a wafer preset id of the catalog
  allreduce: string; // an allreduce id of the catalog
  autoplay: boolean;
  speed: number; // the race clock's multiplier: 1 = the slower machine finishes in RACE_SECONDS; below 1 is slow motion
  /** The open lesson, 1-based; 0 when none is. */
  lesson: number;
  /** Which race the panes run: the emulated pair decoding the loaded model, or a real-scale replay. */
  race: RaceMode;
  /** How the emulated race runs the prompt: each machine prefills and decodes, or the GPU prefills and the wafer decodes (URL `mode`). */
  serving: ServingMode;
  /**
   * How the model is laid out on the wafer (URL `placement`): 'whole' (every layer tiled over the
   * whole mesh), 'pipelined' (the fewest layers a block that fit) or 'pipelined:G' (G layers a block).
   */
  placement: string;
}

/** A placement the emulated wafer runs, as the URL and the CLI's `--placement` write it: whole, pipelined or pipelined:G (G in 1…9999). */
const PLACEMENT = /^(whole|pipelined(:[1-9]\d{0,3})?)$/;

/** Whether a URL value is a placement the wafer runs. */
export const isPlacement = (v: string) => PLACEMENT.test(v);

/** The placements the control offers (the URL may name another G). */
export const PLACEMENTS: readonly string[] = ['whole', 'pipelined', 'pipelined:1', 'pipelined:2', 'pipelined:4'];

/**
 * The layer-pipelined placement runs with the monolithic serving mode only (the KV cache's
 * hand-off into the wafer runs on the whole-mesh placement): with mode=disaggregated, the placement
 * falls back to whole, and the message says so; null when the two go together.
 */
export function placementConflict(s: AppState): string | null {
  if (s.placement === 'whole' || s.serving !== 'disaggregated') return null;
  return `placement=${shown(s.placement)} runs with mode=monolithic only (the KV cache's hand-off into the wafer runs on the whole-mesh placement); using placement=whole`;
}

/** The serving modes (URL `mode=`): monolithic (each machine alone) or disaggregated (the GPU's prefill handed to the wafer). */
export const SERVING_MODES: readonly ServingMode[] = ['monolithic', 'disaggregated'];

/**
 * The races the panes can run: 'emulated' (the wafer and the toy GPU decode the loaded model),
 * 'llama-8b' (pre-generated text replayed at predict's speeds for Llama-3.1-8B on WSE-3 and H100)
 * and 'seed' (the same text at the seed article's published speeds).
 */
export const RACE_MODES = ['emulated', 'llama-8b', 'seed'] as const;
export type RaceMode = (typeof RACE_MODES)[number];

/** The longest prompt a URL carries (longer ones are cut, with a message). */
export const MAX_URL_PROMPT = 2000;

/** Whether a model can take a prompt: random models have no tokenizer; a file only with one. */
export function modelHasTokenizer(model: string, files?: { tokenizer?: unknown }): boolean {
  if (model.startsWith(RANDOM_PREFIX)) return false;
  if (model === 'file') return !!files?.tokenizer;
  return true;
}

/** The message for a prompt cleared because the model has no tokenizer. */
export const promptClearedMessage = (model: string) =>
  `the prompt was cleared: ${model === 'file' ? 'the checkpoint came without a tokenizer' : `${model} has no tokenizer`}, so it starts from BOS and shows token ids instead of text`;

/** A seeded random model's spec starts with this (the syntax `parseModelSpec` reads). */
const RANDOM_PREFIX = 'random:';

/** The models the demo's select offers: the catalog's demo models, then its random model. */
export function demoModels(catalog: Catalog): string[] {
  return [...catalog.models.filter((m) => m.demo).map((m) => m.id), catalog.demoRandomModel];
}

/** The presets the demo's wafer can take: the catalog's hardware of kind 'wafer'. */
export function waferPresets(catalog: Catalog): string[] {
  return catalog.hardware.filter((h) => h.kind === 'wafer').map((h) => h.id);
}

export function allreduceIds(catalog: Catalog): string[] {
  return catalog.allreduce.map((a) => a.id);
}

/** "a, b or c" */
/** A URL value as a message shows it: on one line (control characters escaped) and at most 60 characters. */
export function shown(v: string): string {
  const t = v.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return t.length > 60 ? `${t.slice(0, 60)}… (${v.length.toLocaleString('en')} characters)` : t;
}
const orList = (xs: string[]) => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}` : xs.join(''));

export function defaultState(catalog: Catalog): AppState {
  return {
    model: catalog.defaults.model,
    prompt: 'Once upon a time',
    tokens: 48,
    temperature: 0,
    topP: 1,
    seed: 42,
    mesh: { width: 8, height: 8 },
    preset: catalog.defaults.wafer,
    allreduce: catalog.defaults.allreduce,
    autoplay: false,
    speed: 1,
    lesson: 0,
    race: 'emulated',
    serving: 'monolithic',
    placement: 'whole',
  };
}

export function parseState(search: string, catalog: Catalog): { state: AppState; errors: string[] } {
  const q = new URLSearchParams(search);
  const s = defaultState(catalog);
  const errors: string[] = [];
  const num = (key: string, ok: (n: number) => boolean, range: string, set: (n: number) => void) => {
    const v = q.get(key);
    if (v === null) return;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !ok(n)) errors.push(`${key}=${shown(v)} is not ${range}; using the default`);
    else set(n);
  };
  const model = q.get('model');
  if (model !== null) {
    const served = catalog.models.filter((m) => m.demo).map((m) => m.id);
    if (served.includes(model) || model.startsWith(RANDOM_PREFIX)) s.model = model;
    else errors.push(`model=${shown(model)} is not one the demo serves (${orList([...served, `${RANDOM_PREFIX}<spec>`])}); drop a checkpoint file instead`);
  }
  const prompt = q.get('prompt');
  if (prompt !== null) {
    s.prompt = prompt.slice(0, MAX_URL_PROMPT);
    if (prompt.length > MAX_URL_PROMPT) errors.push(`prompt is ${prompt.length.toLocaleString('en')} characters; it was cut to the first ${MAX_URL_PROMPT.toLocaleString('en')}`);
  }
  num('tokens', (n) => Number.isInteger(n) && n >= 1 && n <= 1024, 'a whole number in 1…1024', (n) => (s.tokens = n));
  num('temperature', (n) => n >= 0 && n <= 10, 'a number in 0…10', (n) => (s.temperature = n));
  num('top_p', (n) => n > 0 && n <= 1, 'in (0, 1]', (n) => (s.topP = n));
  num('seed', (n) => Number.isInteger(n) && n >= 0, 'a whole number ≥ 0', (n) => (s.seed = n));
  num('speed', (n) => n >= 1e-4 && n <= 100, 'in 0.0001…100', (n) => (s.speed = n));
  num('lesson', (n) => Number.isInteger(n) && n >= 0, 'a lesson number', (n) => (s.lesson = n));
  const race = q.get('race');
  if (race !== null) {
    if ((RACE_MODES as readonly string[]).includes(race)) s.race = race as RaceMode;
    else errors.push(`race=${shown(race)} is not ${orList([...RACE_MODES])}; using emulated`);
  }
  const mode = q.get('mode');
  if (mode !== null) {
    if ((SERVING_MODES as readonly string[]).includes(mode)) s.serving = mode as ServingMode;
    else errors.push(`mode=${shown(mode)} is not ${orList([...SERVING_MODES])}; using monolithic`);
  }
  const placement = q.get('placement');
  if (placement !== null) {
    if (isPlacement(placement)) s.placement = placement;
    else errors.push(`placement=${shown(placement)} is not whole, pipelined or pipelined:G (G layers a block, 1 or more); using whole`);
  }
  const conflict = placementConflict(s);
  if (conflict) {
    errors.push(conflict);
    s.placement = 'whole';
  }
  const mesh = q.get('mesh');
  if (mesh !== null) {
    const m = /^(\d+)x(\d+)$/i.exec(mesh.trim());
    const w = m ? Number(m[1]) : NaN;
    const h = m ? Number(m[2]) : NaN;
    if (!m || w < 1 || h < 1 || w > 64 || h > 64) errors.push(`mesh=${shown(mesh)} is not WIDTHxHEIGHT with sides in 1…64 (the demo's limit); using 8x8`);
    else s.mesh = { width: w, height: h };
  }
  const preset = q.get('preset');
  if (preset !== null) {
    const presets = waferPresets(catalog);
    if (presets.includes(preset)) s.preset = preset;
    else errors.push(`preset=${shown(preset)} is unknown; use one of ${presets.join(', ')}`);
  }
  const ar = q.get('allreduce');
  if (ar !== null) {
    const ids = allreduceIds(catalog);
    if (ids.includes(ar)) s.allreduce = ar;
    // An alias the catalog gives in a description ("… (also: tree)"), as the CLI takes it, so its links work here too.
    else if (catalog.allreduce.some((a) => a.description.includes(`(also: ${ar})`))) s.allreduce = catalog.allreduce.find((a) => a.description.includes(`(also: ${ar})`))!.id;
    else errors.push(`allreduce=${shown(ar)} is not ${orList(ids)}; using ${s.allreduce}`);
  }
  s.autoplay = q.get('autoplay') === '1';
  if (s.prompt !== '' && !modelHasTokenizer(s.model)) {
    errors.push(promptClearedMessage(s.model));
    s.prompt = '';
  }
  return { state: s, errors };
}

export function serializeState(s: AppState): string {
  const q = new URLSearchParams();
  q.set('model', s.model);
  q.set('prompt', s.prompt);
  q.set('tokens', String(s.tokens));
  q.set('temperature', String(s.temperature));
  if (s.topP !== 1) q.set('top_p', String(s.topP));
  q.set('seed', String(s.seed));
  q.set('mesh', `${s.mesh.width}x${s.mesh.height}`);
  q.set('preset', s.preset);
  q.set('allreduce', s.allreduce);
  if (s.speed !== 1) q.set('speed', String(s.speed));
  if (s.race !== 'emulated') q.set('race', s.race);
  if (s.serving !== 'monolithic') q.set('mode', s.serving);
  if (s.placement !== 'whole') q.set('placement', s.placement);
  if (s.lesson > 0) q.set('lesson', String(s.lesson));
  if (s.autoplay) q.set('autoplay', '1');
  return `?${q.toString()}`;
}
