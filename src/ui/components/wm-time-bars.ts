import { LitElement, css, html } from 'lit';
import { formatSeconds } from '../race-clock.ts';

/** Horizontal bars: where a machine's modelled time (or energy) per token goes. */
export class WmTimeBars extends LitElement {
  static override properties = { parts: { attribute: false }, unit: { type: String } };
  constructor() {
    super();
    this.parts = {};
    this.unit = 's';
  }

  /** Category → amount (seconds or joules). */
  declare parts: Record<string, number>;
  /** "s" or "J": how the amounts are printed. */
  declare unit: string;
  static override styles = css`
    :host { display: block; font-size: 12px; }
    .row { display: grid; grid-template-columns: minmax(0, 11em) minmax(0, 1fr) 6em; gap: 6px; align-items: center; margin: 2px 0; }
    .bar { height: 10px; background: var(--pane-colour, var(--wm-accent, #1f77b4)); border-radius: 2px; }
    .v { text-align: right; font-variant-numeric: tabular-nums; }
  `;

  override render() {
    const entries = Object.entries(this.parts);
    const total = entries.reduce((a, [, v]) => a + v, 0) || 1;
    const fmt = (v: number) => (this.unit === 's' ? formatSeconds(v) : `${(v * 1e6).toFixed(3)} µJ`);
    return entries.map(
      ([k, v]) => html`<div class="row"><span>${k}</span><div class="bar" style="width:${(100 * v) / total}%"></div><span class="v">${fmt(v)}</span></div>`,
    );
  }
}
customElements.define('wm-time-bars', WmTimeBars);
declare global {
  interface HTMLElementTagNameMap {
    'wm-time-bars': WmTimeBars;
  }
}
