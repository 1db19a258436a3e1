import { LitElement, css, html } from 'lit';

/** The conventional GPU: every weight streamed from HBM through L2 to the compute units, per token. */
export class WmGpuView extends LitElement {
  static override properties = { bytesPerToken: { type: Number }, tokens: { type: Number }, kernels: { type: Number }, progress: { type: Number } };
  constructor() {
    super();
    this.bytesPerToken = 0;
    this.tokens = 0;
    this.kernels = 0;
    this.progress = 0;
  }

  /** Off-chip bytes the last token streamed (weights + KV cache). */
  declare bytesPerToken: number;
  /** Tokens decoded so far. */
  declare tokens: number;
  declare kernels: number;
  /** 0…1: how far the current token's stream has got (animation). */
  declare progress: number;
  static override styles = css`
    :host { display: block; font-size: 12px; }
    .chip { display: grid; grid-template-columns: 1fr 40px 1fr 40px 1fr; align-items: center; gap: 4px; }
    .box { border: 2px solid #555; border-radius: 6px; padding: 8px; text-align: center; background: #fafafa; }
    .hbm { background: #fde7d6; }
    .pipe { height: 12px; background: #eee; position: relative; overflow: hidden; border-radius: 6px; }
    .flow { position: absolute; inset: 0; background: repeating-linear-gradient(90deg, #d62728 0 6px, transparent 6px 12px); }
    .count { margin-top: 6px; font-variant-numeric: tabular-nums; }
  `;

  override render() {
    const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
    return html`
      <div class="chip">
        <div class="box hbm">HBM (off-chip)<br />all weights + KV cache</div>
        <div class="pipe"><div class="flow" style="transform: translateX(${(this.progress * 100 - 100).toFixed(1)}%)"></div></div>
        <div class="box">L2 cache<br />too small to keep them</div>
        <div class="pipe"><div class="flow" style="transform: translateX(${(this.progress * 100 - 100).toFixed(1)}%)"></div></div>
        <div class="box">compute units<br />${this.kernels} kernels / token</div>
      </div>
      <div class="count" data-testid="gpu-bytes">
        ${mb(this.bytesPerToken)} streamed from HBM per token; ${mb(this.bytesPerToken * this.tokens)} over ${this.tokens} tokens
      </div>
    `;
  }
}
customElements.define('wm-gpu-view', WmGpuView);
declare global {
  interface HTMLElementTagNameMap {
    'wm-gpu-view': WmGpuView;
  }
}
