import { LitElement, css, html } from 'lit';
import type { FitReport, PipelineReport } from '../../worker/types.ts';

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
    ol { margin: 2px 0 0; padding-left: 1.6em; }
  `;

  /** The blocks of the layer-pipelined placement: each one's layers, place, role and fit; the cores outside every block. */
  private blocks(f: FitReport, p: PipelineReport) {
    const unused = p.blockOf.reduce((n, b) => n + (b < 0 ? 1 : 0), 0);
    const layers = (first: number, count: number) => (count === 1 ? `layer ${first + 1}` : `layers ${first + 1}–${first + count}`);
    return html`<div data-testid="fit-blocks" data-blocks=${String(p.blocks.length)} data-unused=${String(unused)}>
      Placement ${f.placement}: ${p.layersPerBlock} layer${p.layersPerBlock === 1 ? '' : 's'} a block, ${p.blocks.length} block${p.blocks.length === 1 ? '' : 's'} of ${p.width}×${p.height} cores
      on a ${p.across}×${p.down} grid in snake order (down the first column of blocks, up the next); x is handed from block to block over the fabric and the next id returns to the first block.
      ${unused ? `${unused} core${unused === 1 ? '' : 's'} outside every block ${unused === 1 ? 'is' : 'are'} unused.` : ''}
      <ol start="0">
        ${p.blocks.map(
          (b, k) => html`<li data-block=${String(k)}>block ${k} at core (${b.y},${b.x}): ${layers(b.layerFirst, b.layerCount)} of ${this.layersOf(p)} (${b.role});
            ${b.fits ? html`fullest core (${b.fullest.row},${b.fullest.col}) ${b.fullest.bytes.toLocaleString('en')} B, context ${b.context}` : html`<span class="bad">does not fit</span>: its fullest core (${b.fullest.row},${b.fullest.col}) needs ${b.fullest.bytes.toLocaleString('en')} B`}</li>`,
        )}
      </ol>
    </div>`;
  }

  private layersOf(p: PipelineReport): number {
    const last = p.blocks[p.blocks.length - 1];
    return last.layerFirst + last.layerCount;
  }

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
      ${f.pipeline ? this.blocks(f, f.pipeline) : ''}
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
