import { LitElement, css, html } from 'lit';
import { RaceController } from '../race-controller.ts';
import { waferCaption } from '../wafer-caption.ts';
import './wm-controls.ts';
import './wm-fit-report.ts';
import './wm-gpu-view.ts';
import './wm-race-pane.ts';
import './wm-wafer-view.ts';
import type { SettingsChange } from './wm-controls.ts';

/** The demo: controls, the fit report, the wafer, the GPU, and the race between them. */
export class WmApp extends LitElement {
  private readonly race = new RaceController(this);

  static override styles = css`
    :host { display: block; font-family: system-ui, sans-serif; color: #222; max-width: 1280px; margin: 0 auto; padding: 12px; }
    h1 { font-size: 20px; margin: 0 0 4px; }
    .lead { margin: 0 0 10px; color: #444; }
    .msg { background: #fff4e5; border: 1px solid #f0a030; padding: 6px 10px; border-radius: 4px; margin: 6px 0; font-size: 13px; }
    .err { background: #fde8e8; border-color: #b00; }
    .grid { display: grid; grid-template-columns: minmax(0, 580px) minmax(0, 1fr); gap: 14px; margin-top: 10px; }
    .panes { display: grid; gap: 10px; }
    section h2 { font-size: 15px; margin: 8px 0 4px; }
    .scale { font-size: 12px; color: #555; }
    progress { width: 240px; }
  `;

  private onSettings(e: CustomEvent<SettingsChange>) {
    void this.race.update(e.detail.patch, e.detail.files);
  }

  private onAction(e: CustomEvent<string>) {
    const r = this.race;
    if (e.detail === 'play') r.play();
    else if (e.detail === 'pause') r.pause();
    else if (e.detail === 'token') void r.stepToken();
    else if (e.detail === 'phase') void r.stepPhase();
  }

  override render() {
    const r = this.race;
    const info = r.info;
    const lastMesh = r.revealed.mesh > 0 ? r.events[r.revealed.mesh - 1] : null;
    const lastGpu = r.revealed.gpu > 0 ? r.events[r.revealed.gpu - 1] : null;
    const wafer = waferCaption(info, r.phase, lastMesh);
    return html`
      <h1>wafermesh — a wafer-scale processor against a GPU, token by token</h1>
      <p class="lead">
        Left: an emulated wafer of ${info ? `${info.fit.width}×${info.fit.height}` : '…'} cores, each with its own SRAM holding a slice of every
        weight; only activations move, over links between neighbours. Right: a conventional GPU streaming every weight from off-chip
        memory for every token. Same model, same tokens; speeds are modelled for the preset hardware and shown scaled.
      </p>
      ${r.messages.map((m) => html`<div class="msg" data-testid="url-message">${m}</div>`)}
      ${info?.mode === 'cpu'
        ? html`<div class="msg" data-testid="no-webgpu">WebGPU is not available here (${info.noWebgpuReason}). The CPU reference decodes both panes; the modelled numbers are unchanged.</div>`
        : ''}
      ${r.error ? html`<div class="msg err" data-testid="error">${r.error}</div>` : ''}
      <wm-controls .catalog=${r.catalog} .state=${r.state} .playing=${r.playback.playing} .busy=${!!r.loading} .canRun=${r.runnable && !r.loading && !r.stepping} @settings=${this.onSettings} @action=${this.onAction}></wm-controls>
      ${r.loading ? html`<div>${r.loading.stage} <progress value=${r.loading.fraction}></progress></div>` : ''}
      ${info ? html`<div class="scale">model ${info.modelName}: ${info.describe}. ${info.adapter ? `Engines on ${info.adapter}.` : ''}
          ${r.scale > 0 ? `On screen 1 s = ${(r.scale * 1e6).toFixed(1)} µs of modelled time.` : ''}</div>` : ''}
      <wm-fit-report .fit=${info?.fit ?? null}></wm-fit-report>
      ${info?.refusal && info.fit.fits ? html`<div class="msg err" data-testid="refusal">${info.refusal}</div>` : ''}
      <div class="grid">
        <section>
          <h2>${wafer.heading}</h2>
          <wm-wafer-view .fit=${info?.fit ?? null} .perLink=${r.perLink} .label=${wafer.label} .engine=${wafer.engine} .figures=${wafer.figures}></wm-wafer-view>
        </section>
        <section class="panes">
          <h2>The race</h2>
          <wm-race-pane machine="mesh" heading="Wafer: weights in SRAM, activations on the mesh" .prompt=${r.state?.prompt ?? ''} .text=${r.text('mesh')}
            .last=${lastMesh} .count=${r.revealed.mesh} .done=${r.done}></wm-race-pane>
          <wm-race-pane machine="gpu" heading="GPU: weights streamed from HBM every token" .prompt=${r.state?.prompt ?? ''} .text=${r.text('gpu')}
            .last=${lastGpu} .count=${r.revealed.gpu} .done=${r.done}></wm-race-pane>
          <h2>The GPU</h2>
          <wm-gpu-view .bytesPerToken=${lastGpu?.gpuCost.offchipBytes ?? 0} .tokens=${r.revealed.gpu} .kernels=${info ? info.gpuKernels.filter((k) => k.launch).length : 0}
            .progress=${r.playback.playing ? (performance.now() / 400) % 1 : 1}></wm-gpu-view>
        </section>
      </div>
    `;
  }
}
customElements.define('wm-app', WmApp);
declare global {
  interface HTMLElementTagNameMap {
    'wm-app': WmApp;
  }
}
