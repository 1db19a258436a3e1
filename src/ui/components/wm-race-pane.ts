import { LitElement, css, html } from 'lit';
import type { RealScaleMachine, TokenEvent } from '../../worker/types.ts';
import { formatSeconds } from '../race-clock.ts';
import { handoffLines, measuredTtft, modelledTtft, type PaneStage, type Stage } from '../prefill-view.ts';
import './wm-time-bars.ts';

/**
 * One machine of the race: its text (revealed on the race clock at its modelled speed), a track
 * to the finish line, its numbers, and what it stands for (the toy GPU's scaling, a real-scale
 * replay's source).
 */
export class WmRacePane extends LitElement {
  static override properties = {
    machine: { type: String, reflect: true },
    heading: { type: String },
    note: { type: String },
    text: { type: String },
    prompt: { type: String },
    last: { attribute: false },
    real: { attribute: false },
    count: { type: Number },
    total: { type: Number },
    done: { type: Boolean },
    finish: { type: String },
    stage: { attribute: false },
  };
  constructor() {
    super();
    this.machine = 'mesh';
    this.heading = '';
    this.note = '';
    this.text = '';
    this.prompt = '';
    this.last = null;
    this.real = null;
    this.count = 0;
    this.total = 0;
    this.done = false;
    this.finish = '';
    this.stage = null;
  }

  /** "mesh" or "gpu": which engine's text this pane shows. */
  declare machine: 'mesh' | 'gpu';
  declare heading: string;
  /** What the pane stands for, in a line (e.g. the toy GPU's scaling). */
  declare note: string;
  /** The generated text revealed so far (the prompt is shown apart). */
  declare text: string;
  declare prompt: string;
  /** The last revealed token's event, for the numbers (the emulated race). */
  declare last: TokenEvent | null;
  /** The real-scale replay's machine, or null. */
  declare real: RealScaleMachine | null;
  declare count: number;
  /** Tokens this pane will show in all (what is decoded so far while decoding). */
  declare total: number;
  /** This pane has shown all of its tokens. */
  declare done: boolean;
  /** The finish line's words once done ("finished in 1.23 ms modelled …"). */
  declare finish: string;
  /** Its prefill, hand-off and decode, and its time to first token (the emulated race); null for a replay or before a model is loaded. */
  declare stage: PaneStage | null;

  static override styles = css`
    :host { display: flex; flex-direction: column; min-width: 0; border: 1px solid var(--wm-border, #ccd); border-radius: 10px; padding: 12px 14px; background: var(--wm-surface, #fff);
      border-top: 4px solid var(--pane-colour); }
    :host([machine='mesh']) { --pane-colour: var(--wm-wafer-accent, #0f766e); }
    :host([machine='gpu']) { --pane-colour: var(--wm-gpu-accent, #9a3412); }
    h3 { margin: 0; font-size: 15px; }
    .note { color: var(--wm-muted, #555); font-size: 12px; margin: 2px 0 8px; min-height: 4.2em; line-height: 1.4; }
    .track { position: relative; height: 10px; border-radius: 5px; background: var(--wm-track, #e6e8ef); margin: 4px 0 8px; }
    .fill { position: absolute; inset: 0 auto 0 0; border-radius: 5px; background: var(--pane-colour); }
    .flag { position: absolute; right: -2px; top: -4px; bottom: -4px; width: 4px; background: repeating-linear-gradient(var(--wm-text, #222) 0 3px, var(--wm-surface, #fff) 3px 6px); }
    .finish { font-size: 13px; font-weight: 600; min-height: 1.4em; color: var(--pane-colour); }
    .text { font-family: var(--wm-serif, Georgia, serif); font-size: 15px; line-height: 1.5; height: 9.5em; overflow-y: auto; white-space: pre-wrap;
      overflow-wrap: anywhere; word-break: break-word; border-radius: 6px; background: var(--wm-paper, #fbfbfd); padding: 6px 8px; }
    .prompt { color: var(--wm-muted, #555); font-weight: 600; }
    .stats { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 6px; margin: 10px 0 6px; font-size: 12px; color: var(--wm-muted, #555); }
    .stats b { display: block; font-size: 17px; color: var(--wm-text, #222); font-variant-numeric: tabular-nums; }
    .where { font-size: 12px; color: var(--wm-muted, #555); }
    .stages { display: flex; gap: 4px; margin: 0 0 6px; font-size: 12px; list-style: none; padding: 0; }
    .stages li { flex: 1; text-align: center; padding: 2px 4px; border-radius: 4px; background: var(--wm-track, #e6e8ef); color: var(--wm-muted, #555); }
    .stages li.on { background: var(--pane-colour); color: var(--wm-on-accent, #fff); font-weight: 600; }
    .stages li.past { color: var(--wm-text, #222); }
    .ttft { font-size: 12px; margin: 0 0 6px; line-height: 1.45; min-height: 1.45em; }
    .ttft b { font-variant-numeric: tabular-nums; }
    .handoff { font-size: 12px; margin: 6px 0; padding: 6px 8px; border-radius: 6px; background: var(--wm-paper, #fbfbfd); border-left: 3px solid var(--wm-kv, #e8912d); line-height: 1.45; }
    .handoff b { font-variant-numeric: tabular-nums; }
  `;

  /** The stages this pane goes through, in order, with their names on screen. */
  private stages(st: PaneStage): { id: Stage; label: string }[] {
    const handoff = { id: 'handoff' as const, label: st.prefillOnly ? 'KV cache → wafer' : 'KV cache in' };
    if (st.prefillOnly) return [{ id: 'prefill', label: 'prefill' }, handoff];
    const prefill = { id: 'prefill' as const, label: st.serving === 'disaggregated' ? 'GPU prefills' : 'prefill' };
    return [prefill, ...(st.serving === 'disaggregated' ? [handoff] : []), { id: 'decode', label: 'decode' }];
  }

  private renderStage() {
    const st = this.stage;
    if (!st) return '';
    const order = this.stages(st);
    const at = st.stage === 'done' ? order.length : order.findIndex((o) => o.id === st.stage);
    const p = st.prefill;
    let line;
    if (st.stage === 'waiting') line = html`the prompt's prefill is running on this computer…`;
    else if (st.prefillOnly) {
      line = html`prefill: <b>${formatSeconds(p!.modelledSeconds)}</b> modelled (${p!.modelledHardware}, batched, ${p!.positions} positions) ·
        ${p!.wallMs === null ? '' : html`<b>${formatSeconds(p!.wallMs / 1e3)}</b> measured here (wall clock on this driver)`}; it then hands its KV cache to the wafer and decodes nothing`;
    } else if (st.stage === 'prefill' || st.stage === 'handoff') {
      line = st.serving === 'disaggregated'
        ? html`${st.stage === 'prefill' ? `waiting for the GPU's prefill of ${st.handoff?.positions ?? ''} positions` : 'taking the KV cache in at its west edge'}; first token due at <b>${formatSeconds(st.ttftSeconds!)}</b> (modelled)`
        : html`prefill: ${p!.how === 'batched' ? 'the whole prompt as one batch' : 'the prompt one position at a time'}, ${p!.positions} positions; first token due at <b>${formatSeconds(st.ttftSeconds!)}</b> (modelled)`;
    } else {
      line = html`time to first token: <b>${modelledTtft(st.ttftSeconds!, p, st.serving, st.handoff)}</b> · <b>${measuredTtft(st.ttftWallMs)}</b>${st.aloneSeconds === null
        ? ''
        : html`<br /><span data-testid="ttft-alone">prefilling alone, token by token, the wafer would have it at <b>${formatSeconds(st.aloneSeconds)}</b> (modelled, not run)</span>`}`;
    }
    const showHandoff = st.handoff && (st.prefillOnly ? st.stage !== 'prefill' : st.stage === 'handoff' || st.stage === 'decode' || st.stage === 'done');
    return html`
      <ol class="stages" data-testid="pane-stage" data-stage=${st.stage} aria-label="${this.heading}: stages">
        ${order.map((o, i) => html`<li class=${i === at ? 'on' : i < at ? 'past' : ''} aria-current=${i === at ? 'step' : 'false'}>${o.label}</li>`)}
      </ol>
      <div class="ttft" data-testid="ttft" data-modelled-s=${st.ttftSeconds === null ? '' : String(st.ttftSeconds)} data-wall-ms=${st.ttftWallMs === null ? '' : String(st.ttftWallMs)}>${line}</div>
      ${showHandoff
        ? html`<div class="handoff" data-testid="handoff" data-bytes=${String(st.handoff!.bytes)} data-modelled-s=${String(st.handoff!.modelledSeconds)}>
            ${handoffLines(st.handoff!).map((l) => html`<div>${l.name}: <b>${l.value}</b></div>`)}
          </div>`
        : ''}
    `;
  }

  override updated(changed: Map<string, unknown>) {
    // Follow the writing: the newest tokens stay in view.
    if (changed.has('text')) {
      const box = this.renderRoot.querySelector<HTMLElement>('.text');
      if (box) box.scrollTop = box.scrollHeight;
    }
  }

  override render() {
    const cost = this.last ? (this.machine === 'mesh' ? this.last.meshCost : this.last.gpuCost) : null;
    // The GPU that only prefills (disaggregated) has one thing to finish: its prefill.
    const pct = this.stage?.prefillOnly ? (this.count > 0 ? 100 : 0) : this.total > 0 ? Math.min(100, (100 * this.count) / this.total) : 0;
    return html`
      <h3>${this.heading}</h3>
      <div class="note" data-testid="pane-note">${this.note}</div>
      <div class="track" role="progressbar" aria-label="${this.heading}: tokens shown" aria-valuemin="0" aria-valuemax=${String(this.total)} aria-valuenow=${String(this.count)} data-testid="race-track">
        <div class="fill" style="width:${pct.toFixed(2)}%"></div><div class="flag" title="finish line"></div>
      </div>
      <div class="finish" data-testid="finish" aria-live="polite">${this.stage?.prefillOnly
        ? this.stage.stage === 'prefill' || this.stage.stage === 'waiting' ? 'prefilling the prompt' : 'prefilled; the KV cache went to the wafer'
        : this.done ? this.finish : `${this.count.toLocaleString('en')} of ${this.total.toLocaleString('en')} tokens`}</div>
      ${this.renderStage()}
      <div class="text" tabindex="0" aria-label="${this.heading}: generated text"><span class="prompt" data-testid="prompt-text">${this.prompt}</span><span
          data-testid="generated-text"
          data-engine=${this.machine}
          data-done=${this.done ? 'true' : 'false'}
          data-count=${String(this.count)}
          data-total=${String(this.total)}
        >${this.text}</span></div>
      ${this.real
        ? html`<div class="stats">
            <span>${this.real.kind} tokens/s<b>${Math.round(this.real.tokensPerS).toLocaleString('en')}</b></span>
            <span>time per token<b>${formatSeconds(1 / this.real.tokensPerS)}</b></span>
            <span>source<b style="font-size:12px">${this.real.kind}</b></span>
          </div>
          <div class="where">${this.real.note}</div>`
        : this.last?.prefill && this.stage && !this.stage.prefillOnly && this.stage.ttftSeconds !== null
          ? html`<div class="stats">
                <span>time to first token (modelled)<b>${formatSeconds(this.stage.ttftSeconds)}</b></span>
                <span>prefill tokens/s (modelled)<b>${this.stage.prefill ? Math.round(this.stage.prefill.positions / this.stage.prefill.modelledSeconds).toLocaleString('en') : '-'}</b></span>
                <span>time to first token here (measured)<b>${this.stage.ttftWallMs === null ? '-' : formatSeconds(this.stage.ttftWallMs / 1e3)}</b></span>
              </div>
              <div class="where">the first token ends the prefill; the decode's figures follow from the second</div>`
        : this.stage?.prefillOnly
          ? html`<div class="stats">${this.stage.stage === 'prefill' || this.stage.stage === 'waiting' ? 'prefilling' : 'no decode: the wafer decodes'}</div>`
        : cost
          ? html`<div class="stats">
                <span>tokens/s (modelled)<b>${Math.round(cost.tokensPerS).toLocaleString('en')}</b></span>
                <span>time per token (modelled)<b>${formatSeconds(cost.seconds)}</b></span>
                <span>energy per token (modelled)<b>${(cost.joules * 1e6).toFixed(3)} µJ</b></span>
              </div>
              <div class="where">where the time goes (modelled):</div>
              <wm-time-bars .parts=${cost.time}></wm-time-bars>`
          : html`<div class="stats">no token yet</div>`}
    `;
  }
}
customElements.define('wm-race-pane', WmRacePane);
declare global {
  interface HTMLElementTagNameMap {
    'wm-race-pane': WmRacePane;
  }
}
