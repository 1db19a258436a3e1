import { LitElement, css, html } from 'lit';
import type { Catalog } from '../../worker/types.ts';
import { allreduceIds, demoModels, waferPresets, type AppState } from '../url-state.ts';

export interface SettingsChange {
  patch: Partial<AppState>;
  files?: { checkpoint?: ArrayBuffer; tokenizer?: ArrayBuffer };
}

/**
 * The demo's controls. It only renders and reports: `settings` (apply) and `action` events. Its
 * models, presets and allreduce algorithms are the catalog's; it renders nothing without a catalog
 * and a state.
 */
export class WmControls extends LitElement {
  static override properties = {
    catalog: { attribute: false },
    state: { attribute: false },
    playing: { type: Boolean },
    busy: { type: Boolean },
    canRun: { type: Boolean },
  };
  constructor() {
    super();
    this.catalog = null;
    this.state = null;
    this.playing = false;
    this.busy = false;
    this.canRun = false;
  }

  /** The catalog the worker serves: the model, preset and allreduce lists. */
  declare catalog: Catalog | null;
  /** The settings shown (the URL's state). */
  declare state: AppState | null;
  /** Whether the race is playing (play and the steps are disabled, pause enabled). */
  declare playing: boolean;
  /** A model is loading: load is disabled. */
  declare busy: boolean;
  /** A model is loaded, fits and nothing is in flight: play and the steps may run. */
  declare canRun: boolean;
  static override styles = css`
    :host { display: block; font-size: 13px; }
    form { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; }
    label { display: flex; flex-direction: column; gap: 2px; }
    input[type='number'] { width: 5em; }
    input[name='prompt'] { width: 18em; }
    .buttons { display: flex; gap: 6px; margin-top: 8px; flex-wrap: wrap; }
    button { padding: 4px 10px; }
  `;

  private emit(name: string, detail: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  private async apply(e: Event) {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const mesh = /^(\d+)x(\d+)$/.exec(String(f.get('mesh')));
    const files = (this.renderRoot.querySelector('input[type=file]') as HTMLInputElement | null)?.files;
    let fileBytes: SettingsChange['files'];
    let model = String(f.get('model'));
    if (files && files.length > 0) {
      // The larger file is the checkpoint, a smaller second one the tokenizer.
      const sorted = [...files].sort((a, b) => b.size - a.size);
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
      },
      files: fileBytes,
    };
    this.emit('settings', change);
  }

  override render() {
    const s = this.state;
    const c = this.catalog;
    if (!s || !c) return html``;
    const models = demoModels(c);
    const meshes = ['4x4', '6x6', '8x8', '6x10', '12x12', '16x16', '32x32', '64x64'];
    const mesh = `${s.mesh.width}x${s.mesh.height}`;
    return html`
      <form @submit=${this.apply}>
        <label>model
          <select name="model">
            ${models.map((m) => html`<option ?selected=${s.model === m} value=${m}>${m}</option>`)}
            ${models.includes(s.model) ? '' : html`<option selected value=${s.model}>${s.model}</option>`}
          </select>
        </label>
        <label>or a llama2.c checkpoint (+ tokenizer)<input type="file" multiple accept=".bin" data-testid="model-file" /></label>
        <label>prompt<input name="prompt" .value=${s.prompt} /></label>
        <label>tokens<input name="tokens" type="number" min="1" max="1024" .value=${String(s.tokens)} /></label>
        <label>temperature<input name="temperature" type="number" min="0" max="10" step="0.1" .value=${String(s.temperature)} /></label>
        <label>seed<input name="seed" type="number" min="0" .value=${String(s.seed)} /></label>
        <label>mesh
          <select name="mesh">${[...new Set([mesh, ...meshes])].map((m) => html`<option ?selected=${m === mesh} value=${m}>${m}</option>`)}</select>
        </label>
        <label>preset<select name="preset">${waferPresets(c).map((p) => html`<option ?selected=${p === s.preset}>${p}</option>`)}</select></label>
        <label>allreduce<select name="allreduce">${allreduceIds(c).map((a) => html`<option ?selected=${a === s.allreduce}>${a}</option>`)}</select></label>
        <button type="submit" data-testid="apply" ?disabled=${this.busy}>load</button>
      </form>
      <div class="buttons">
        <button data-testid="play" ?disabled=${!this.canRun || this.playing} @click=${() => this.emit('action', 'play')}>▶ play</button>
        <button data-testid="pause" ?disabled=${!this.playing} @click=${() => this.emit('action', 'pause')}>❚❚ pause</button>
        <button data-testid="step-token" ?disabled=${!this.canRun || this.playing} @click=${() => this.emit('action', 'token')}>step one token</button>
        <button data-testid="step-phase" ?disabled=${!this.canRun || this.playing} @click=${() => this.emit('action', 'phase')}>step one phase</button>
        <label>animation speed
          <input type="range" min="0.25" max="8" step="0.25" .value=${String(s.speed)} data-testid="speed"
            @input=${(e: Event) => this.emit('settings', { patch: { speed: Number((e.target as HTMLInputElement).value) } })} />
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
