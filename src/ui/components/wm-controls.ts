import { LitElement, css, html } from 'lit';
import type { Catalog } from '../../worker/types.ts';
import { allreduceIds, demoModels, PLACEMENTS, SERVING_MODES, waferPresets, type AppState, type RaceMode } from '../url-state.ts';
import type { ServingMode } from '../../worker/types.ts';

export interface SettingsChange {
  patch: Partial<AppState>;
  files?: { checkpoint?: ArrayBuffer; tokenizer?: ArrayBuffer };
}

/** The race clock's speeds offered: 1 = the slower machine finishes in 10–60 s; below 1 is slow motion. */
export const SPEEDS: readonly { value: number; label: string }[] = [
  { value: 8, label: '8× faster' },
  { value: 4, label: '4× faster' },
  { value: 2, label: '2× faster' },
  { value: 1, label: '1× (the slower one takes 10–60 s)' },
  { value: 0.5, label: '½ slow motion' },
  { value: 0.1, label: '1/10 slow motion' },
  { value: 0.01, label: '1/100 slow motion' },
  { value: 0.001, label: '1/1,000 slow motion' },
  { value: 0.0001, label: '1/10,000 slow motion' },
];

export const RACE_LABELS: Record<RaceMode, string> = {
  emulated: 'emulated: the wafer and the toy GPU decode this model',
  'llama-8b': 'real scale: Llama-3.1-8B, WSE-3 against H100 (modelled)',
  seed: 'real scale: the seed article’s claim, 1,000+ against 65–70 tokens/s (published)',
};

export const SERVING_LABELS: Record<ServingMode, string> = {
  monolithic: 'monolithic: each machine prefills the prompt, then decodes',
  disaggregated: 'disaggregated: the GPU prefills, its KV cache crosses to the wafer, the wafer decodes',
};

/** What each placement offered does, in a few words. */
export function placementLabel(p: string): string {
  if (p === 'whole') return 'whole: every layer tiled over the whole mesh';
  if (p === 'pipelined') return 'pipelined: blocks of the fewest layers that fit';
  const g = Number(p.slice('pipelined:'.length));
  return `pipelined:${g}: ${g} layer${g === 1 ? '' : 's'} a block, x handed block to block`;
}

const MESHES = ['4x4', '6x6', '8x8', '6x10', '12x12', '16x16', '32x32', '64x64'];

/**
 * The demo's controls. It only renders and reports: `settings` (load, or a change that needs no
 * reload) and `action` events. Its models, presets and allreduce algorithms are the catalog's; it
 * renders nothing without a catalog and a state. A llama2.c checkpoint (and its tokenizer) can be
 * chosen or dropped on the drop zone.
 */
export class WmControls extends LitElement {
  static override properties = {
    catalog: { attribute: false },
    state: { attribute: false },
    playing: { type: Boolean },
    busy: { type: Boolean },
    canRun: { type: Boolean },
    canStep: { type: Boolean },
    finished: { type: Boolean },
    dropping: { state: true },
    fileNames: { state: true },
  };
  constructor() {
    super();
    this.catalog = null;
    this.state = null;
    this.playing = false;
    this.busy = false;
    this.canRun = false;
    this.canStep = false;
    this.finished = false;
    this.dropping = false;
    this.fileNames = [];
  }

  /** The catalog the worker serves: the model, preset and allreduce lists. */
  declare catalog: Catalog | null;
  /** The settings shown (the URL's state). */
  declare state: AppState | null;
  /** Whether the race is playing (play and the steps are disabled, pause enabled). */
  declare playing: boolean;
  /** A model is loading: load is disabled. */
  declare busy: boolean;
  /** A model is loaded, fits and nothing is in flight: play may run. */
  declare canRun: boolean;
  /** The steps may run (the emulated race, not a replay). */
  declare canStep: boolean;
  /** The race has finished: play plays it again. */
  declare finished: boolean;
  private declare dropping: boolean;
  private declare fileNames: string[];
  private files: File[] = [];

  static override styles = css`
    :host { display: block; font-size: var(--wm-small, 13px); }
    form { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px 12px; align-items: end; }
    label { display: flex; flex-direction: column; gap: 4px; color: var(--wm-muted, #555); font-weight: 500; min-width: 0; }
    .wide { grid-column: span 2; }
    input, select { font: inherit; color: var(--wm-text, #222); background: var(--wm-field, #fff); border: 1px solid var(--wm-border, #c8ccd8);
      border-radius: 6px; padding: 6px 8px; min-width: 0; width: 100%; box-sizing: border-box; }
    input:focus-visible, select:focus-visible, button:focus-visible, .drop:focus-visible { outline: 3px solid var(--wm-focus, #2563eb); outline-offset: 1px; }
    button { font: inherit; font-weight: 600; border-radius: 6px; padding: 7px 14px; border: 1px solid var(--wm-border, #c8ccd8);
      background: var(--wm-surface, #fff); color: var(--wm-text, #222); cursor: pointer; }
    button:hover:not(:disabled) { border-color: var(--wm-accent, #2563eb); }
    button:disabled { opacity: 0.45; cursor: default; }
    button.primary { background: var(--wm-accent, #2563eb); border-color: var(--wm-accent, #2563eb); color: var(--wm-on-accent, #fff); }
    .drop { border: 2px dashed var(--wm-border, #c8ccd8); border-radius: 8px; padding: 4px 8px; display: flex; flex-direction: column; gap: 2px; box-sizing: border-box; }
    .drop.over { border-color: var(--wm-accent, #2563eb); background: var(--wm-accent-soft, #e8effd); }
    .drop label { gap: 2px; }
    .drop input[type='file'] { border: none; padding: 0; background: transparent; font-size: 12px; }
    .drop input[type='file']::file-selector-button { font: inherit; font-weight: 600; border-radius: 6px; padding: 3px 10px; border: 1px solid var(--wm-border, #c8ccd8);
      background: var(--wm-surface, #fff); color: var(--wm-text, #222); margin-right: 8px; cursor: pointer; }
    .names { font-size: 12px; color: var(--wm-text, #222); overflow-wrap: anywhere; }
    .bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-top: 12px; }
    .bar label { flex-direction: column; }
    .sep { flex: 1; }
  `;

  private emit(name: string, detail: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  private async apply(e: Event) {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const mesh = /^(\d+)x(\d+)$/.exec(String(f.get('mesh')));
    let fileBytes: SettingsChange['files'];
    let model = String(f.get('model'));
    if (this.files.length > 0) {
      // The larger file is the checkpoint, a smaller second one the tokenizer.
      const sorted = [...this.files].sort((a, b) => b.size - a.size);
      fileBytes = { checkpoint: await sorted[0].arrayBuffer(), tokenizer: sorted[1] ? await sorted[1].arrayBuffer() : undefined };
      model = 'file';
    }
    const change: SettingsChange = {
      patch: {
        model,
        prompt: String(f.get('prompt')),
        tokens: Number(f.get('tokens')),
        temperature: Number(f.get('temperature')),
        seed: Number(f.get('seed')),
        mesh: mesh ? { width: Number(mesh[1]), height: Number(mesh[2]) } : this.state!.mesh,
        preset: String(f.get('preset')),
        allreduce: String(f.get('allreduce')),
        race: String(f.get('race')) as RaceMode,
        serving: String(f.get('serving')) as ServingMode,
        placement: String(f.get('placement')),
      },
      files: fileBytes,
    };
    this.emit('settings', change);
  }

  /** Files chosen or dropped: kept until load (a model choice from the list clears them). */
  private take(list: FileList | null | undefined) {
    this.files = list ? [...list].slice(0, 2) : [];
    this.fileNames = this.files.map((f) => f.name);
  }

  private onDrop(e: DragEvent) {
    e.preventDefault();
    this.dropping = false;
    this.take(e.dataTransfer?.files);
  }

  override render() {
    const s = this.state;
    const c = this.catalog;
    if (!s || !c) return html``;
    const models = demoModels(c);
    const mesh = `${s.mesh.width}x${s.mesh.height}`;
    const speeds = SPEEDS.some((x) => x.value === s.speed) ? SPEEDS : [...SPEEDS, { value: s.speed, label: `${s.speed}×` }];
    return html`
      <form @submit=${this.apply} aria-label="settings">
        <label>model
          <select name="model" @change=${() => this.take(null)}>
            ${models.map((m) => html`<option ?selected=${s.model === m} value=${m}>${m}</option>`)}
            ${models.includes(s.model) || s.model === 'file' ? '' : html`<option selected value=${s.model}>${s.model}</option>`}
            ${s.model === 'file' ? html`<option selected value="file">the checkpoint loaded</option>` : ''}
          </select>
        </label>
        <div class="wide drop-wrap">
          <div class="drop ${this.dropping ? 'over' : ''}" data-testid="drop-zone"
            @dragover=${(e: DragEvent) => {
              e.preventDefault();
              this.dropping = true;
            }}
            @dragleave=${() => (this.dropping = false)}
            @drop=${this.onDrop}>
            <label>or a llama2.c checkpoint (+ tokenizer): choose, or drop the files here
              <input type="file" multiple accept=".bin" data-testid="model-file" @change=${(e: Event) => this.take((e.target as HTMLInputElement).files)} />
            </label>
            <span class="names" data-testid="file-names" aria-live="polite">${this.fileNames.length ? `to load: ${this.fileNames.join(' + ')}` : ''}</span>
          </div>
        </div>
        <label class="wide">prompt<input name="prompt" .value=${s.prompt} placeholder="empty: start from BOS" /></label>
        <label>tokens<input name="tokens" type="number" min="1" max="1024" .value=${String(s.tokens)} /></label>
        <label>temperature<input name="temperature" type="number" min="0" max="10" step="0.1" .value=${String(s.temperature)} /></label>
        <label>seed<input name="seed" type="number" min="0" .value=${String(s.seed)} /></label>
        <label>mesh (cores)
          <select name="mesh">${[...new Set([mesh, ...MESHES])].map((m) => html`<option ?selected=${m === mesh} value=${m}>${m.replace('x', ' × ')}</option>`)}</select>
        </label>
        <label>wafer preset<select name="preset">${waferPresets(c).map((p) => html`<option ?selected=${p === s.preset} value=${p}>${p}</option>`)}</select></label>
        <label>allreduce<select name="allreduce">${allreduceIds(c).map((a) => html`<option ?selected=${a === s.allreduce} value=${a}>${a}</option>`)}</select></label>
        <label class="wide">race
          <select name="race" data-testid="race-mode">${(Object.keys(RACE_LABELS) as RaceMode[]).map((r) => html`<option ?selected=${r === s.race} value=${r}>${RACE_LABELS[r]}</option>`)}</select>
        </label>
        <label class="wide">serving (emulated race)
          <select name="serving" data-testid="serving-mode">${SERVING_MODES.map((m) => html`<option ?selected=${m === s.serving} value=${m}>${SERVING_LABELS[m]}</option>`)}</select>
        </label>
        <label class="wide">placement on the wafer
          <select name="placement" data-testid="placement">${[...new Set([...PLACEMENTS, s.placement])].map((p) => html`<option ?selected=${p === s.placement} value=${p}>${placementLabel(p)}</option>`)}</select>
        </label>
        <button type="submit" class="primary" data-testid="apply" ?disabled=${this.busy}>load</button>
      </form>
      <div class="bar" role="toolbar" aria-label="playback">
        <button class="primary" data-testid="play" ?disabled=${!this.canRun || this.playing} @click=${() => this.emit('action', 'play')}>${this.finished ? '↻ play again' : '▶ play'}</button>
        <button data-testid="pause" ?disabled=${!this.playing} @click=${() => this.emit('action', 'pause')}>❚❚ pause</button>
        <button data-testid="step-token" ?disabled=${!this.canRun || !this.canStep || this.playing} @click=${() => this.emit('action', 'token')}>step one token</button>
        <button data-testid="step-phase" ?disabled=${!this.canRun || !this.canStep || this.playing} @click=${() => this.emit('action', 'phase')}>step one phase</button>
        <span class="sep"></span>
        <label>race clock
          <select data-testid="speed" @change=${(e: Event) => this.emit('settings', { patch: { speed: Number((e.target as HTMLSelectElement).value) } })}>
            ${speeds.map((x) => html`<option ?selected=${x.value === s.speed} value=${String(x.value)}>${x.label}</option>`)}
          </select>
        </label>
      </div>
    `;
  }
}
customElements.define('wm-controls', WmControls);
declare global {
  interface HTMLElementTagNameMap {
    'wm-controls': WmControls;
  }
}
