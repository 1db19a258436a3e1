import { LitElement, css, html } from 'lit';
import type { TokenEvent } from '../../worker/types.ts';
import './wm-time-bars.ts';

/** One machine of the race: its generated text (revealed at its modelled speed) and its numbers. */
export class WmRacePane extends LitElement {
  static override properties = {
    machine: { type: String },
    heading: { type: String },
    text: { type: String },
    prompt: { type: String },
    last: { attribute: false },
    count: { type: Number },
    done: { type: Boolean },
  };
  constructor() {
    super();
    this.machine = 'mesh';
    this.heading = '';
    this.text = '';
    this.prompt = '';
    this.last = null;
    this.count = 0;
    this.done = false;
  }

  /** "mesh" or "gpu": which engine's text this pane shows. */
  declare machine: 'mesh' | 'gpu';
  declare heading: string;
  /** The generated text revealed so far (the prompt is shown apart). */
  declare text: string;
  declare prompt: string;
  /** The last revealed token's event, for the numbers. */
  declare last: TokenEvent | null;
  declare count: number;
  declare done: boolean;
  static override styles = css`
    :host { display: block; border: 1px solid #ccd; border-radius: 6px; padding: 10px; background: #fff; }
    h3 { margin: 0 0 6px; font-size: 15px; }
    .text { font-family: Georgia, serif; font-size: 15px; line-height: 1.45; min-height: 6em; white-space: pre-wrap; }
    .prompt { color: #555; font-weight: bold; }
    .stats { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4px; margin: 8px 0; font-size: 12px; }
    .stats b { display: block; font-size: 16px; font-variant-numeric: tabular-nums; }
  `;

  override render() {
    const cost = this.last ? (this.machine === 'mesh' ? this.last.meshCost : this.last.gpuCost) : null;
    return html`
      <h3>${this.heading}</h3>
      <div class="text"><span class="prompt" data-testid="prompt-text">${this.prompt}</span><span
          data-testid="generated-text"
          data-engine=${this.machine}
          data-done=${this.done ? 'true' : 'false'}
          data-count=${String(this.count)}
        >${this.text}</span></div>
      ${cost
        ? html`<div class="stats">
              <span>modelled tokens/s<b>${Math.round(cost.tokensPerS).toLocaleString('en')}</b></span>
              <span>time per token<b>${(cost.seconds * 1e6).toFixed(2)} µs</b></span>
              <span>energy per token<b>${(cost.joules * 1e6).toFixed(3)} µJ</b></span>
            </div>
            <div>where the time goes:</div>
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
