import { LitElement, css, html } from 'lit';
import type { FitReport } from '../../worker/types.ts';

/** The fit of the chosen model on the chosen mesh, shown before anything runs. */
export class WmFitReport extends LitElement {
  static override properties = { fit: { attribute: false } };
  constructor() {
    super();
    this.fit = null;
  }

  declare fit: FitReport | null;
  static override styles = css`
    :host { display: block; font-size: var(--wm-small, 13px); line-height: 1.5; }
    .bad { color: var(--wm-error, #c62828); font-weight: 600; }
    .ok { color: var(--wm-ok, #15803d); font-weight: 600; }
  `;

  override render() {
    const f = this.fit;
    if (!f) return html``;
    const n = f.width * f.height;
    let w = 0;
    let kv = 0;
    let s = 0;
    for (let i = 0; i < n; i++) {
      w += f.weightWords[i];
      kv += f.kvWords[i];
      s += f.scratchWords[i];
    }
    const total = n * f.sramBytes;
    const pct = (x: number) => `${((100 * x * 4) / total).toFixed(1)}%`;
    return html`<div data-testid="fit-report">
      ${f.fits ? html`<span class="ok">fits</span>` : html`<span class="bad">does not fit</span>`}
      on ${f.width}×${f.height} cores of ${(f.sramBytes / 1024).toFixed(0)} KB: weights ${pct(w)}, KV cache ${pct(kv)}, scratch ${pct(s)} of all SRAM;
      fullest core (${f.fullest.row},${f.fullest.col}) ${f.fullest.bytes.toLocaleString('en')} B; context ${f.context} of ${f.seqLen} positions.
      ${f.smallestFittingMesh ? html`The smallest mesh of this shape with the full context: ${f.smallestFittingMesh}.` : ''}
      ${f.error ? html`<div class="bad" data-testid="fit-error">${f.error}</div>` : ''}
    </div>`;
  }
}
customElements.define('wm-fit-report', WmFitReport);
declare global {
  interface HTMLElementTagNameMap {
    'wm-fit-report': WmFitReport;
  }
}
