import { LitElement, css, html } from 'lit';
import type { FitReport } from '../../worker/types.ts';
import { coreAt, coreRect, layoutWafer, linkSegment, type WaferLayout } from '../geometry.ts';

const SIZE = 560;
const BINS = 8;
/** ABGR (little-endian RGBA) pixels: light to dark red by traffic; the moving words darker still. */
const LINK_COLORS = Array.from({ length: BINS }, (_, b) => {
  const k = (b + 1) / BINS;
  const mix = (from: number, to: number) => Math.round(from + (to - from) * k);
  return (0xff << 24) | (mix(200, 40) << 16) | (mix(190, 39) << 8) | mix(240, 214);
});
const DOT_COLOR = (0xff << 24) | (0x0c << 16) | (0x0c << 8) | 0x7a;

/**
 * The wafer: every core coloured by what its SRAM holds (weights blue, KV cache orange, free
 * white), links coloured by the words they carry in the phase or token shown, words animated
 * along them. Hover a core to see what it holds. Canvas 2D, cores drawn once per fit.
 */
export class WmWaferView extends LitElement {
  static override properties = {
    fit: { attribute: false },
    perLink: { attribute: false },
    label: { type: String },
    engine: { type: String },
    figures: { attribute: false },
    hover: { state: true },
  };
  constructor() {
    super();
    this.fit = null;
    this.perLink = null;
    this.label = '';
    this.engine = '';
    this.figures = [];
    this.hover = -1;
  }

  declare fit: FitReport | null;
  /** Words per link (core * 4 + dir) of what is shown, or null. */
  declare perLink: Float32Array | null;
  /** The phase or token shown. */
  declare label: string;
  /** Which engine drew the links and whether their counts are measured or modelled. */
  declare engine: string;
  /** The figures of what is shown, each named measured or modelled. */
  declare figures: readonly { name: string; value: string }[];
  private declare hover: number;
  private base: HTMLCanvasElement | null = null;
  private layout: WaferLayout | null = null;
  private frame = 0;
  /** Links carrying words, binned by traffic (log scale) so each bin is one path, one stroke. */
  private bins: Float32Array[] = [];
  private basePixels: ImageData | undefined;
  private pixels: ImageData | undefined;
  private activeLinks = 0;
  private maxWords = 1;

  static override styles = css`
    :host { display: block; position: relative; }
    canvas { width: ${SIZE}px; height: ${SIZE}px; max-width: 100%; border: 1px solid #ccd; border-radius: 6px; background: #f4f4f8; }
    .label { font-size: 13px; min-height: 1.4em; }
    .tip { position: absolute; pointer-events: none; background: #222; color: #fff; font-size: 12px; padding: 6px 8px; border-radius: 4px; white-space: pre; }
    .legend { font-size: 12px; color: #444; }
    .engine { font-size: 12px; color: #444; margin-top: 4px; }
    .figures { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin: 2px 0 6px; min-height: 2.6em; }
    .figures b { display: block; font-size: 15px; font-variant-numeric: tabular-nums; }
    .sw { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px; vertical-align: middle; }
  `;

  override render() {
    const f = this.fit;
    let tip = '';
    if (f && this.hover >= 0) {
      const i = this.hover;
      const words = (w: number) => `${(w * 4).toLocaleString('en')} B`;
      const free = f.sramBytes - 4 * (f.weightWords[i] + f.kvWords[i] + f.scratchWords[i]);
      let out = 0;
      if (this.perLink) for (let d = 0; d < 4; d++) out += this.perLink[i * 4 + d];
      tip = `core (${Math.floor(i / f.width)},${i % f.width})\nweights ${words(f.weightWords[i])}\nKV cache ${words(f.kvWords[i])}\nscratch ${words(f.scratchWords[i])}\nfree ${free.toLocaleString('en')} B\nwords it sent on its links ${out.toLocaleString('en')}`;
    }
    return html`
      <div class="label" data-testid="phase-label">${this.label}</div>
      <div class="figures" data-testid="wafer-figures">${this.figures.map((f) => html`<span>${f.name}<b>${f.value}</b></span>`)}</div>
      <canvas width=${SIZE} height=${SIZE} @mousemove=${this.onMove} @mouseleave=${() => (this.hover = -1)}></canvas>
      <div class="legend"><span class="sw" style="background:#3b6fb6"></span>weights<span class="sw" style="background:#f0a030"></span>KV cache<span class="sw" style="background:#fff;border:1px solid #999"></span>free<span class="sw" style="background:#d62728"></span>words on a link</div>
      <div class="engine" data-testid="wafer-engine">${this.engine}</div>
      ${tip ? html`<div class="tip" style="left:12px;top:40px">${tip}</div>` : ''}
    `;
  }

  private onMove(e: MouseEvent) {
    if (!this.layout) return;
    const c = e.target as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    this.hover = coreAt(this.layout, ((e.clientX - r.left) * SIZE) / r.width, ((e.clientY - r.top) * SIZE) / r.height);
  }

  override updated(changed: Map<string, unknown>) {
    if (changed.has('fit')) this.drawBase();
    if (changed.has('perLink') || changed.has('fit')) this.collectLinks();
    if (!this.frame) this.frame = requestAnimationFrame((t) => this.draw(t));
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  private drawBase() {
    const f = this.fit;
    if (!f) return;
    this.layout = layoutWafer(f.width, f.height, SIZE, SIZE);
    const c = document.createElement('canvas');
    c.width = SIZE;
    c.height = SIZE;
    const g = c.getContext('2d')!;
    const sramWords = f.sramBytes / 4;
    for (let i = 0; i < f.width * f.height; i++) {
      const r = coreRect(this.layout, i);
      const wf = Math.min(1, f.weightWords[i] / sramWords);
      const kf = Math.min(1 - wf, f.kvWords[i] / sramWords);
      const over = (f.weightWords[i] + f.kvWords[i] + f.scratchWords[i]) / sramWords > 1;
      g.fillStyle = '#fff';
      g.fillRect(r.x, r.y, r.size, r.size);
      // Fill from the bottom: weights, then KV cache; the rest is free.
      g.fillStyle = '#3b6fb6';
      g.fillRect(r.x, r.y + r.size * (1 - wf), r.size, r.size * wf);
      g.fillStyle = '#f0a030';
      g.fillRect(r.x, r.y + r.size * (1 - wf - kf), r.size, r.size * kf);
      if (over) {
        g.strokeStyle = '#b00';
        g.lineWidth = 2;
        g.strokeRect(r.x + 1, r.y + 1, r.size - 2, r.size - 2);
      }
    }
    this.base = c;
    this.basePixels = undefined;
  }

  private collectLinks() {
    this.bins = [];
    this.activeLinks = 0;
    this.maxWords = 1;
    const l = this.layout;
    const p = this.perLink;
    if (!l || !p) return;
    for (let i = 0; i < p.length; i++) this.maxWords = Math.max(this.maxWords, p[i]);
    const lists: number[][] = Array.from({ length: BINS }, () => []);
    for (let i = 0; i < p.length; i++) {
      if (p[i] <= 0) continue;
      const seg = linkSegment(l, i);
      if (!seg) continue;
      const k = Math.log1p(p[i]) / Math.log1p(this.maxWords);
      lists[Math.min(BINS - 1, Math.floor(k * BINS))].push(seg.x0, seg.y0, seg.x1, seg.y1);
      this.activeLinks++;
    }
    this.bins = lists.map((x) => Float32Array.from(x));
  }

  /**
   * Draws a frame into pixels and uploads them once: links are axis-aligned, so they are written
   * as runs of pixels; one putImageData per frame costs the software compositors far less than
   * thousands of vector strokes (64 × 64 cores have 16,000 links).
   */
  private draw(t: number) {
    // Animate only while words are moving; otherwise draw once and rest.
    this.frame = this.activeLinks > 0 ? requestAnimationFrame((x) => this.draw(x)) : 0;
    const canvas = this.renderRoot.querySelector('canvas');
    if (!canvas || !this.base) return;
    const g = canvas.getContext('2d')!;
    this.basePixels ??= this.base.getContext('2d')!.getImageData(0, 0, SIZE, SIZE);
    this.pixels ??= new ImageData(SIZE, SIZE);
    const px = new Uint32Array(this.pixels.data.buffer);
    px.set(new Uint32Array(this.basePixels.data.buffer));
    const phase = (t / 900) % 1;
    const put = (x: number, y: number, c: number) => {
      if (x >= 0 && y >= 0 && x < SIZE && y < SIZE) px[(y | 0) * SIZE + (x | 0)] = c;
    };
    this.bins.forEach((segs, b) => {
      const c = LINK_COLORS[b];
      const thick = b >= BINS / 2 ? 2 : 1;
      for (let i = 0; i < segs.length; i += 4) {
        const x0 = Math.round(segs[i]);
        const y0 = Math.round(segs[i + 1]);
        const x1 = Math.round(segs[i + 2]);
        const y1 = Math.round(segs[i + 3]);
        if (y0 === y1) {
          for (let x = Math.min(x0, x1); x <= Math.max(x0, x1); x++) for (let d = 0; d < thick; d++) put(x, y0 + d, c);
        } else {
          for (let y = Math.min(y0, y1); y <= Math.max(y0, y1); y++) for (let d = 0; d < thick; d++) put(x0 + d, y, c);
        }
        const dx = x0 + (x1 - x0) * phase;
        const dy = y0 + (y1 - y0) * phase;
        for (let u = -1; u <= 1; u++) for (let v = -1; v <= 1; v++) put(dx + u, dy + v, DOT_COLOR);
      }
    });
    g.putImageData(this.pixels, 0, 0);
  }
}
customElements.define('wm-wafer-view', WmWaferView);
declare global {
  interface HTMLElementTagNameMap {
    'wm-wafer-view': WmWaferView;
  }
}
