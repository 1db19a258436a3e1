import { LitElement, css, html } from 'lit';

const mb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${Math.round(b)} B`);

/**
 * The conventional GPU: every weight streamed from HBM through L2 to the compute units, per
 * token. Each new token sends one wave of weights along the path (the bytes it streamed, modelled
 * by the cost model); `prefers-reduced-motion` keeps it still.
 */
export class WmGpuView extends LitElement {
  static override properties = {
    bytesPerToken: { type: Number },
    tokens: { type: Number },
    kernels: { type: Number },
    l2Bytes: { type: Number },
    hbmSeconds: { type: Number },
    machine: { type: String },
  };
  constructor() {
    super();
    this.bytesPerToken = 0;
    this.tokens = 0;
    this.kernels = 0;
    this.l2Bytes = 0;
    this.hbmSeconds = 0;
    this.machine = '';
  }

  /** Off-chip bytes the last token streamed (weights + KV cache), modelled. */
  declare bytesPerToken: number;
  /** Tokens the GPU pane has shown so far: each one sends a wave. */
  declare tokens: number;
  /** Kernel launches per token. */
  declare kernels: number;
  /** The preset's L2 cache, bytes. */
  declare l2Bytes: number;
  /** Modelled seconds the last token spent streaming from HBM. */
  declare hbmSeconds: number;
  /** The GPU preset's description. */
  declare machine: string;
  private readonly reducedMotion = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

  static override styles = css`
    :host { display: block; font-size: var(--wm-small, 13px); }
    .chip { display: grid; grid-template-columns: 1fr 48px 1fr 48px 1fr; align-items: center; gap: 6px; }
    .box { border: 1px solid var(--wm-border, #ccd); border-radius: 8px; padding: 8px; text-align: center; background: var(--wm-surface, #fff); min-height: 64px;
      display: flex; flex-direction: column; justify-content: center; gap: 2px; }
    .box b { font-size: 13px; }
    .box span { color: var(--wm-muted, #555); font-size: 12px; }
    .hbm { border-color: var(--wm-weights, #3b6fb6); box-shadow: inset 0 -6px 0 var(--wm-weights, #3b6fb6); }
    .pipe { height: 14px; background: var(--wm-track, #e6e8ef); position: relative; overflow: hidden; border-radius: 7px; }
    .wave { position: absolute; top: 0; bottom: 0; width: 60%; left: -60%; border-radius: 7px;
      background: linear-gradient(90deg, transparent, var(--wm-weights, #3b6fb6), transparent); }
    .count { margin-top: 8px; font-variant-numeric: tabular-nums; }
    .note { color: var(--wm-muted, #555); margin-top: 4px; }
    @media (max-width: 560px) { .chip { grid-template-columns: 1fr; } .pipe { height: 10px; } }
  `;

  override render() {
    const l2 = this.l2Bytes;
    return html`
      <div class="chip" aria-label="weights stream from HBM through L2 to the compute units for every token">
        <div class="box hbm"><b>HBM, off-chip</b><span>all weights + KV cache</span></div>
        <div class="pipe"><div class="wave"></div></div>
        <div class="box"><b>L2 cache</b><span>${l2 > 0 ? `${mb(l2)}${this.bytesPerToken > 0 ? (this.bytesPerToken > l2 ? ': far too small to keep them' : ': holds them') : ''}` : ''}</span></div>
        <div class="pipe"><div class="wave"></div></div>
        <div class="box"><b>compute units</b><span>${this.kernels} kernels a token</span></div>
      </div>
      <div class="count" data-testid="gpu-bytes" data-bytes=${String(this.bytesPerToken)}>
        ${mb(this.bytesPerToken)} streamed from HBM per token (modelled)${this.hbmSeconds > 0 ? `, taking ${(this.hbmSeconds * 1e6).toFixed(1)} µs` : ''}; ${mb(this.bytesPerToken * this.tokens)} over ${this.tokens} tokens
      </div>
      ${this.machine ? html`<div class="note">${this.machine}</div>` : ''}
    `;
  }

  override updated(changed: Map<string, unknown>) {
    // One wave per token shown: HBM → L2, then L2 → compute.
    if (!changed.has('tokens') || this.tokens === 0 || this.reducedMotion) return;
    const waves = this.renderRoot.querySelectorAll<HTMLElement>('.wave');
    waves.forEach((w, i) =>
      w.animate([{ left: '-60%' }, { left: '100%' }], { duration: 320, delay: i * 160, easing: 'ease-in-out' }),
    );
  }
}
customElements.define('wm-gpu-view', WmGpuView);
declare global {
  interface HTMLElementTagNameMap {
    'wm-gpu-view': WmGpuView;
  }
}
