import { LitElement, css, html } from 'lit';
import type { FitReport, HandoffReport, PhaseInfo, PipelineReport } from '../../worker/types.ts';
import { formatBytes } from '../prefill-view.ts';
import { BLOCK_NODES, blockNodeOf } from '../block-map.ts';
import { coreAt, coreRect, layoutWafer, linkSegment, type WaferLayout } from '../geometry.ts';
import { tileLines } from '../tiles.ts';
import { stepBlocks } from '../pipeline-blocks.ts';

const SIZE = 560;
const BINS = 8;
/** Below this many pixels per core (meshes wider than 27 cores unzoomed), links are aggregated into a heat ring around each core (level of detail). */
const DETAIL_CELL = 20;
const MAX_ZOOM = 16;

/** '#rrggbb' → ABGR (little-endian RGBA) pixel. */
function pixel(hex: string): number {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (!m) return 0xff000000;
  return (0xff << 24) | (parseInt(m[3], 16) << 16) | (parseInt(m[2], 16) << 8) | parseInt(m[1], 16);
}

/** A colour between two '#rrggbb' colours, k in 0…1, as a pixel. */
function mixPixel(a: string, b: string, k: number): number {
  const pa = pixel(a);
  const pb = pixel(b);
  const ch = (p: number, s: number) => (p >>> s) & 0xff;
  const m = (s: number) => Math.round(ch(pa, s) + (ch(pb, s) - ch(pa, s)) * k) << s;
  return ((0xff << 24) | m(16) | m(8) | m(0)) >>> 0;
}

/** Theme colours, read from the page's CSS custom properties (light and dark themes). */
function palette(el: Element) {
  const cs = getComputedStyle(el);
  const v = (name: string, fallback: string) => cs.getPropertyValue(name).trim() || fallback;
  return {
    canvas: v('--wm-canvas', '#eef0f5'),
    weights: v('--wm-weights', '#3b6fb6'),
    kv: v('--wm-kv', '#e8912d'),
    free: v('--wm-free', '#ffffff'),
    error: v('--wm-error', '#c62828'),
    trafficLo: v('--wm-traffic-lo', '#d9c8f5'),
    trafficHi: v('--wm-traffic-hi', '#5b21b6'),
    word: v('--wm-word', '#111111'),
    unused: v('--wm-unused', '#c9cdd6'),
    block: v('--wm-block', '#374151'),
  };
}


/**
 * The wafer: every core coloured by what its SRAM holds (weights blue, KV cache orange, free
 * light), links coloured by the words they carry in the phase or token shown (violet, log scale),
 * with arrowheads and moving words for their direction; a core that does not fit is outlined in
 * red (red means errors only). Hover a core for the weight tile it holds and its bytes; zoom with
 * the wheel or the buttons, drag to pan. On big meshes (under 20 px a core) links are aggregated
 * into a heat ring around each core so the SRAM colours stay visible. Beside it, a transformer
 * block lights the operation the step shown belongs to.
 */
export class WmWaferView extends LitElement {
  static override properties = {
    fit: { attribute: false },
    perLink: { attribute: false },
    label: { type: String },
    engine: { type: String },
    figures: { attribute: false },
    step: { attribute: false },
    layers: { type: Number },
    handoff: { attribute: false },
    hover: { state: true },
    zoom: { state: true },
  };
  constructor() {
    super();
    this.fit = null;
    this.perLink = null;
    this.label = '';
    this.engine = '';
    this.figures = [];
    this.step = null;
    this.layers = 0;
    this.handoff = null;
    this.hover = -1;
    this.zoom = 1;
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
  /** The step shown alone (step one phase), lit in the block diagram; null for a whole token. */
  declare step: PhaseInfo | null;
  /** The model's layers (for the block diagram's "layer i of n"). */
  declare layers: number;
  /**
   * The KV cache's hand-off into the wafer (the disaggregated mode), while it is what the wafer
   * shows: the edge landing is drawn on the west edge cores, and `phase` is the fabric phase whose
   * links `perLink` holds (null: all of them together).
   */
  declare handoff: { report: HandoffReport; phase: number | null; holding: boolean } | null;
  private declare hover: number;
  private declare zoom: number;
  private pan = { x: 0, y: 0 };
  private drag: { x: number; y: number; px: number; py: number } | null = null;
  private base: HTMLCanvasElement | null = null;
  private layout: WaferLayout | null = null;
  private frame = 0;
  /** Links carrying words, binned by traffic (log scale): segments per bin. */
  private bins: Float32Array[] = [];
  /** Per core, the words its four links sent (aggregated view). */
  private coreHeat: Float32Array | null = null;
  private basePixels: ImageData | undefined;
  private pixels: ImageData | undefined;
  private activeLinks = 0;
  private maxWords = 1;
  private colors = { links: [] as number[], word: 0, heat: [] as number[], kv: 0 };
  private readonly reducedMotion = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

  static override styles = css`
    :host { display: block; position: relative; font-size: var(--wm-small, 13px); }
    .label { min-height: 2.8em; line-height: 1.4; }
    .row { display: grid; grid-template-columns: minmax(0, 1fr) 150px; gap: 12px; align-items: start; }
    .stage { position: relative; }
    canvas { display: block; width: 100%; max-width: ${SIZE}px; aspect-ratio: 1; border: 1px solid var(--wm-border, #ccd); border-radius: 8px;
      background: var(--wm-canvas, #eef0f5); cursor: grab; touch-action: none; }
    canvas:focus-visible { outline: 3px solid var(--wm-focus, #2563eb); outline-offset: 2px; }
    .zoom { position: absolute; top: 8px; right: 8px; display: flex; gap: 4px; }
    .zoom button { width: 30px; height: 30px; border-radius: 6px; border: 1px solid var(--wm-border, #ccd); background: var(--wm-surface, #fff); color: var(--wm-text, #222); font: inherit; font-size: 16px; cursor: pointer; }
    .zoom button:focus-visible { outline: 3px solid var(--wm-focus, #2563eb); }
    .tip { position: absolute; z-index: 2; pointer-events: none; background: var(--wm-tip-bg, #1f2430); color: var(--wm-tip-text, #fff); font-size: 12px; padding: 8px 10px; border-radius: 6px; white-space: pre; line-height: 1.45; max-width: 420px; overflow: hidden; }
    .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 8px; color: var(--wm-muted, #555); }
    .sw { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; border-radius: 2px; border: 1px solid var(--wm-border, #ccd); }
    .ramp { display: inline-block; width: 60px; height: 10px; vertical-align: -1px; margin: 0 4px; border-radius: 2px; background: linear-gradient(90deg, var(--wm-traffic-lo, #d9c8f5), var(--wm-traffic-hi, #5b21b6)); }
    .engine { color: var(--wm-muted, #555); margin-top: 6px; }
    .figures { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 4px 0 8px; min-height: 2.6em; }
    .figures span { color: var(--wm-muted, #555); }
    .figures b { display: block; font-size: 16px; color: var(--wm-text, #222); font-variant-numeric: tabular-nums; }
    .block { border: 1px solid var(--wm-border, #ccd); border-radius: 8px; padding: 8px; background: var(--wm-surface, #fff); }
    .block h3 { margin: 0 0 6px; font-size: 12px; font-weight: 600; color: var(--wm-muted, #555); }
    .block ol { list-style: none; margin: 0; padding: 0; display: grid; gap: 3px; }
    .block li { padding: 3px 6px; border-radius: 4px; border: 1px solid transparent; font-size: 12px; }
    .block li.layer { margin-left: 10px; border-left: 2px solid var(--wm-border, #ccd); border-radius: 0 4px 4px 0; }
    .block li.on { background: var(--wm-traffic-hi, #5b21b6); color: #fff; font-weight: 600; }
    .block .where { font-size: 11px; color: var(--wm-muted, #555); margin-top: 6px; min-height: 2.6em; }
    .handoff { margin: 0 0 8px; padding: 6px 8px; border-radius: 6px; border-left: 3px solid var(--wm-kv, #e8912d); background: var(--wm-paper, #fbfbfd); line-height: 1.45; }
    .handoff ol { margin: 4px 0 0; padding-left: 1.4em; }
    .handoff li.on { font-weight: 600; }
    @media (max-width: 700px) { .row { grid-template-columns: 1fr; } }
  `;

  override render() {
    const f = this.fit;
    const node = this.step ? blockNodeOf(this.step.kind, this.step.name) : null;
    const heat = this.layout ? this.layout.cell < DETAIL_CELL : false;
    return html`
      <div class="label" data-testid="phase-label">${this.label}</div>
      ${this.handoff ? this.renderHandoff(this.handoff) : ''}
      <div class="figures" data-testid="wafer-figures">${this.figures.map((x) => html`<span>${x.name}<b>${x.value}</b></span>`)}</div>
      <div class="row">
        <div class="stage">
          <canvas width=${SIZE} height=${SIZE} tabindex="0" role="img" data-testid="wafer-canvas" data-detail=${heat ? 'heat' : 'links'}
            aria-label=${f ? `The wafer: ${f.width} by ${f.height} cores coloured by what their SRAM holds; links coloured by the words they carried. Arrow keys pan, plus and minus zoom.` : 'The wafer, before a model is loaded'}
            @mousemove=${this.onMove} @mouseleave=${this.onLeave} @wheel=${this.onWheel} @pointerdown=${this.onDown} @pointerup=${this.onUp} @keydown=${this.onKey}></canvas>
          <div class="zoom">
            <button aria-label="zoom in" data-testid="zoom-in" @click=${() => this.setZoom(this.zoom * 2)}>+</button>
            <button aria-label="zoom out" data-testid="zoom-out" @click=${() => this.setZoom(this.zoom / 2)}>−</button>
            <button aria-label="reset zoom and pan" @click=${() => this.setZoom(1, true)}>⟲</button>
          </div>
          ${f && this.hover >= 0 ? html`<div class="tip" data-testid="core-tip" style="left:12px;top:12px">${this.tip(f, this.hover)}</div>` : ''}
        </div>
        <div class="block" data-testid="block-diagram" aria-label="where the step shown sits in the transformer">
          <h3>the transformer, one token</h3>
          <ol>
            ${BLOCK_NODES.map((b) => html`<li class="${b.inLayer ? 'layer' : ''} ${node === b.id ? 'on' : ''}" data-node=${b.id} aria-current=${node === b.id ? 'step' : 'false'}>${b.label}</li>`)}
          </ol>
          <div class="where" data-testid="step-where">${this.step ? `${this.step.kind === 'transfer' ? 'fabric phase' : 'compute pass'}${this.step.layer !== null ? `, layer ${this.step.layer + 1} of ${this.layers}` : ''}${this.whereBlocks(this.step)}` : 'step one phase to see where it sits'}</div>
        </div>
      </div>
      <div class="legend" data-testid="wafer-legend">
        <span><span class="sw" style="background:var(--wm-weights)"></span>weights (bytes of SRAM, filled from the bottom)</span>
        <span><span class="sw" style="background:var(--wm-kv)"></span>KV cache</span>
        <span><span class="sw" style="background:var(--wm-free)"></span>free SRAM</span>
        <span>words per link, 1<span class="ramp"></span>${Math.round(this.maxWords).toLocaleString('en')} (log scale)${heat ? ', summed per core as a ring' : ', arrows show the direction'}</span>
        <span><span class="sw" style="background:transparent;border:2px solid var(--wm-error)"></span>core over capacity</span>
        ${f?.pipeline ? html`<span data-testid="legend-blocks"><span class="sw" style="background:transparent;border:2px dashed var(--wm-block, #374151)"></span>a block of ${f.pipeline.width} × ${f.pipeline.height} cores (${f.placement}; the step's block outlined in violet)</span>
          <span><span class="sw" style="background:var(--wm-unused, #c9cdd6)"></span>unused core, outside every block</span>` : ''}
      </div>
      <div class="engine" data-testid="wafer-engine">${this.engine}</div>
    `;
  }

  /** Under the pipelined placement, the block(s) a step runs on, in words. */
  private whereBlocks(step: PhaseInfo): string {
    const p = this.fit?.pipeline;
    if (!p) return '';
    const on = stepBlocks(p, step);
    if (on.length === 2) return `, from block ${on[0]} to block ${on[1]}`;
    return on.length ? `, on block ${on[0]}` : '';
  }

  private renderHandoff(h: { report: HandoffReport; phase: number | null; holding: boolean }) {
    const r = h.report;
    const n = (x: number) => Math.round(x).toLocaleString('en');
    return html`<div class="handoff" data-testid="handoff-phases" data-phase=${h.phase === null ? '' : String(h.phase)} data-phases=${String(r.phases.length)} aria-live="polite">
      The KV cache's hand-off: ${formatBytes(r.bytes)} of keys and values for ${r.positions} positions.
      ${r.edgeWords === null
        ? 'Without WebGPU the CPU stands in for the wafer: no edge landing or fabric phases run, only the modelled network time.'
        : html`The host's I/O lands ${n(r.edgeWords)} words on the west edge cores (marked on the left; closed form: each word once per copy the wafer keeps), then
          ${r.phases.length} fabric phase${r.phases.length === 1 ? '' : 's'} carry them east along each row, a round per destination column, to the cores that keep them — words per link measured by the fabric
          (a phase's rounds together)${h.holding ? `; the race clock waits here to show it (not to scale)` : ''}:
          <ol>${r.phases.map((p, i) => html`<li class=${h.phase === i ? 'on' : ''}>${p.name}: ${n(p.words)} words, ${n(p.steps)} steps measured; ${p.firstDifference === null ? 'equal to the closed form' : `differs from the closed form: ${p.firstDifference}`}</li>`)}</ol>`}
    </div>`;
  }

  private tip(f: FitReport, i: number): string {
    const bytes = (w: number) => `${(w * 4).toLocaleString('en')} B`;
    const free = f.sramBytes - 4 * (f.weightWords[i] + f.kvWords[i] + f.scratchWords[i]);
    let out = 0;
    if (this.perLink) for (let d = 0; d < 4; d++) out += this.perLink[i * 4 + d];
    const r = Math.floor(i / f.width);
    const c = i % f.width;
    const p = f.pipeline;
    const k = p ? p.blockOf[i] : 0;
    if (p && k < 0) return [`core (${r}, ${c}) of ${f.width} × ${f.height}`, 'outside every block: unused, it holds nothing', `words it sent on its links: ${out.toLocaleString('en')}`].join('\n');
    const b = p?.blocks[k];
    const layers = b ? (b.layerCount === 1 ? `layer ${b.layerFirst + 1}` : `layers ${b.layerFirst + 1}–${b.layerFirst + b.layerCount}`) : '';
    return [
      `core (${r}, ${c}) of ${f.width} × ${f.height}`,
      ...(b ? [`block ${k} (${layers}, ${b.role}), its core (${r - b.y}, ${c - b.x}) of ${p!.width} × ${p!.height}`] : []),
      ...(b ? tileLines(f, r - b.y, c - b.x).map((l, j) => (j === 0 ? l.replace('of every layer', `of each of its layers`) : l)) : tileLines(f, r, c)),
      `weights ${bytes(f.weightWords[i])} · KV cache ${bytes(f.kvWords[i])}`,
      `scratch ${bytes(f.scratchWords[i])} · free ${free.toLocaleString('en')} B of ${f.sramBytes.toLocaleString('en')} B`,
      `words it sent on its links: ${out.toLocaleString('en')}`,
    ].join('\n');
  }

  /** Canvas pixels of a pointer event. */
  private canvasPoint(e: MouseEvent): { x: number; y: number } {
    const c = e.currentTarget as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * SIZE) / r.width, y: ((e.clientY - r.top) * SIZE) / r.height };
  }

  private onMove(e: MouseEvent) {
    if (this.drag) {
      const p = this.canvasPoint(e);
      this.pan = { x: this.drag.px + p.x - this.drag.x, y: this.drag.py + p.y - this.drag.y };
      this.relayout();
      return;
    }
    if (!this.layout) return;
    const p = this.canvasPoint(e);
    this.hover = coreAt(this.layout, p.x, p.y);
  }

  private onLeave() {
    this.hover = -1;
    this.drag = null;
  }

  private onDown(e: PointerEvent) {
    if (this.zoom <= 1) return;
    const p = this.canvasPoint(e);
    this.drag = { ...p, px: this.pan.x, py: this.pan.y };
    (e.currentTarget as HTMLCanvasElement).setPointerCapture?.(e.pointerId);
  }

  private onUp() {
    this.drag = null;
  }

  private onWheel(e: WheelEvent) {
    e.preventDefault();
    const p = this.canvasPoint(e);
    this.setZoom(this.zoom * (e.deltaY < 0 ? 1.25 : 0.8), false, p);
  }

  private onKey(e: KeyboardEvent) {
    const step = 40;
    const moves: Record<string, [number, number]> = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (e.key === '+' || e.key === '=') this.setZoom(this.zoom * 2);
    else if (e.key === '-') this.setZoom(this.zoom / 2);
    else if (e.key === '0') this.setZoom(1, true);
    else if (moves[e.key] && this.zoom > 1) {
      this.pan = { x: this.pan.x + moves[e.key][0], y: this.pan.y + moves[e.key][1] };
      this.relayout();
    } else return;
    e.preventDefault();
  }

  /** Zooms about a canvas point (the centre by default), keeping the wafer on screen. */
  private setZoom(z: number, reset = false, at = { x: SIZE / 2, y: SIZE / 2 }) {
    const next = Math.min(MAX_ZOOM, Math.max(1, z));
    if (reset || next === 1) this.pan = { x: 0, y: 0 };
    else {
      const k = next / this.zoom;
      this.pan = { x: at.x - (at.x - this.pan.x) * k, y: at.y - (at.y - this.pan.y) * k };
    }
    this.zoom = next;
    this.relayout();
  }

  private relayout() {
    const limit = SIZE * (this.zoom - 1);
    this.pan = { x: Math.min(0, Math.max(-limit, this.pan.x)), y: Math.min(0, Math.max(-limit, this.pan.y)) };
    this.drawBase();
    this.collectLinks();
    this.kick();
  }

  // Before rendering, so the legend's range is the links' being drawn.
  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('fit')) {
      const old = changed.get('fit') as FitReport | null | undefined;
      if (old && this.fit && (old.width !== this.fit.width || old.height !== this.fit.height)) {
        this.zoom = 1;
        this.pan = { x: 0, y: 0 };
      }
      this.drawBase();
    } else if (changed.has('step') && this.fit?.pipeline) {
      this.drawBase(); // the block the step runs on is outlined
    }
    if (changed.has('perLink') || changed.has('fit')) this.collectLinks();
  }

  override updated() {
    this.kick();
  }

  private kick() {
    if (!this.frame) this.frame = requestAnimationFrame((t) => this.draw(t));
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  private drawBase() {
    const f = this.fit;
    this.basePixels = undefined;
    if (!f) {
      // No model (a failed load): nothing of the previous one stays on screen.
      this.layout = null;
      this.base = null;
      this.bins = [];
      this.coreHeat = null;
      this.activeLinks = 0;
      this.hover = -1;
      const canvas = this.renderRoot.querySelector('canvas');
      canvas?.getContext('2d')!.clearRect(0, 0, SIZE, SIZE);
      return;
    }
    const z = this.zoom;
    const l = layoutWafer(f.width, f.height, SIZE * z, SIZE * z);
    this.layout = { ...l, originX: l.originX + this.pan.x, originY: l.originY + this.pan.y };
    const pal = palette(this);
    const links = Array.from({ length: BINS }, (_, b) => mixPixel(pal.trafficLo, pal.trafficHi, (b + 1) / BINS));
    this.colors = { links, word: pixel(pal.word), heat: links, kv: pixel(pal.kv) };
    const c = document.createElement('canvas');
    c.width = SIZE;
    c.height = SIZE;
    const g = c.getContext('2d')!;
    g.fillStyle = pal.canvas;
    g.fillRect(0, 0, SIZE, SIZE);
    const sramWords = f.sramBytes / 4;
    const pipe = f.pipeline;
    for (let i = 0; i < f.width * f.height; i++) {
      const r = coreRect(this.layout, i);
      if (r.x > SIZE || r.y > SIZE || r.x + r.size < 0 || r.y + r.size < 0) continue;
      if (pipe && pipe.blockOf[i] < 0) {
        // Outside every block: unused, greyed and struck through.
        g.fillStyle = pal.unused;
        g.fillRect(r.x, r.y, r.size, r.size);
        if (r.size >= 6) {
          g.strokeStyle = pal.canvas;
          g.lineWidth = 1;
          g.beginPath();
          g.moveTo(r.x, r.y + r.size);
          g.lineTo(r.x + r.size, r.y);
          g.stroke();
        }
        continue;
      }
      const wf = Math.min(1, f.weightWords[i] / sramWords);
      const kf = Math.min(1 - wf, f.kvWords[i] / sramWords);
      const over = (f.weightWords[i] + f.kvWords[i] + f.scratchWords[i]) / sramWords > 1;
      g.fillStyle = pal.free;
      g.fillRect(r.x, r.y, r.size, r.size);
      // Filled from the bottom: weights, then KV cache; the rest is free.
      g.fillStyle = pal.weights;
      g.fillRect(r.x, r.y + r.size * (1 - wf), r.size, r.size * wf);
      g.fillStyle = pal.kv;
      g.fillRect(r.x, r.y + r.size * (1 - wf - kf), r.size, r.size * kf);
      if (over) {
        g.strokeStyle = pal.error;
        g.lineWidth = Math.max(1, Math.min(3, r.size / 6));
        g.strokeRect(r.x + 1, r.y + 1, r.size - 2, r.size - 2);
      }
    }
    if (pipe) this.drawBlocks(g, pipe, pal);
    this.base = c;
  }

  /** Each block's outline and name (the block the step shown runs on, heavier), on the base. */
  private drawBlocks(g: CanvasRenderingContext2D, p: PipelineReport, pal: ReturnType<typeof palette>) {
    const l = this.layout!;
    const on = stepBlocks(p, this.step);
    p.blocks.forEach((b, k) => {
      const x = l.originX + b.x * l.cell;
      const y = l.originY + b.y * l.cell;
      const lit = on.includes(k);
      g.strokeStyle = lit ? pal.trafficHi : pal.block;
      g.lineWidth = lit ? 4 : 2;
      g.setLineDash(lit ? [] : [6, 4]);
      g.strokeRect(x + 1, y + 1, p.width * l.cell - 2, p.height * l.cell - 2);
      g.setLineDash([]);
      if (p.width * l.cell >= 60) {
        const layers = b.layerCount === 1 ? `L${b.layerFirst + 1}` : `L${b.layerFirst + 1}–${b.layerFirst + b.layerCount}`;
        const text = `block ${k} · ${layers}`;
        g.font = '600 11px system-ui, sans-serif';
        g.fillStyle = lit ? pal.trafficHi : pal.block;
        const w = g.measureText(text).width + 8;
        g.globalAlpha = 0.85;
        g.fillRect(x + 3, y + 3, w, 15);
        g.globalAlpha = 1;
        g.fillStyle = '#ffffff';
        g.fillText(text, x + 7, y + 14);
      }
    });
  }

  private collectLinks() {
    this.bins = [];
    this.coreHeat = null;
    this.activeLinks = 0;
    this.maxWords = 1;
    const l = this.layout;
    const p = this.perLink;
    if (!l || !p || !this.fit || p.length !== this.fit.width * this.fit.height * 4) return;
    for (let i = 0; i < p.length; i++) this.maxWords = Math.max(this.maxWords, p[i]);
    if (l.cell < DETAIL_CELL) {
      // Level of detail: each core's four links summed into one heat value.
      const heat = new Float32Array(p.length / 4);
      for (let i = 0; i < p.length; i++) heat[i >> 2] += p[i];
      this.coreHeat = heat;
      this.maxWords = Math.max(1, ...heat);
      this.activeLinks = 0;
      return;
    }
    const lists: number[][] = Array.from({ length: BINS }, () => []);
    for (let i = 0; i < p.length; i++) {
      if (p[i] <= 0) continue;
      const seg = linkSegment(l, i);
      if (!seg) continue;
      // Only the stretch between the two cores (the middle 40% of centre to centre), so the cores' SRAM colours stay visible.
      const dx = seg.x1 - seg.x0;
      const dy = seg.y1 - seg.y0;
      const k = Math.log1p(p[i]) / Math.log1p(this.maxWords);
      lists[Math.min(BINS - 1, Math.floor(k * BINS))].push(seg.x0 + dx * 0.3, seg.y0 + dy * 0.3, seg.x0 + dx * 0.7, seg.y0 + dy * 0.7);
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
    // Animate only while words are moving (and motion is welcome); otherwise draw once and rest.
    this.frame = this.activeLinks > 0 && !this.reducedMotion ? requestAnimationFrame((x) => this.draw(x)) : 0;
    const canvas = this.renderRoot.querySelector('canvas');
    if (!canvas) return;
    const g = canvas.getContext('2d')!;
    if (!this.base) {
      g.clearRect(0, 0, SIZE, SIZE);
      return;
    }
    this.basePixels ??= this.base.getContext('2d')!.getImageData(0, 0, SIZE, SIZE);
    this.pixels ??= new ImageData(SIZE, SIZE);
    const px = new Uint32Array(this.pixels.data.buffer);
    px.set(new Uint32Array(this.basePixels.data.buffer));
    const put = (x: number, y: number, c: number) => {
      if (x >= 0 && y >= 0 && x < SIZE && y < SIZE) px[(y | 0) * SIZE + (x | 0)] = c;
    };
    if (this.coreHeat && this.layout && this.fit) {
      const heat = this.coreHeat;
      const top = Math.log1p(this.maxWords);
      for (let i = 0; i < heat.length; i++) {
        if (heat[i] <= 0) continue;
        const r = coreRect(this.layout, i);
        const c = this.colors.heat[Math.min(BINS - 1, Math.floor((Math.log1p(heat[i]) / top) * BINS))];
        const x0 = Math.round(r.x) - 1;
        const y0 = Math.round(r.y) - 1;
        const s = Math.round(r.size) + 1;
        for (let k = 0; k <= s; k++) {
          put(x0 + k, y0, c);
          put(x0 + k, y0 + s, c);
          put(x0, y0 + k, c);
          put(x0 + s, y0 + k, c);
        }
      }
    }
    if (this.handoff && this.handoff.report.edgeWords !== null && this.layout && this.fit) {
      // The edge landing: the host's I/O enters a row at its west edge core — the rows whose links carried hand-off words (measured).
      const W = this.fit.width;
      const landed = (row: number) => this.handoff!.report.phases.some((p) => p.perLink.subarray(row * W * 4, (row + 1) * W * 4).some((w) => w > 0));
      for (let row = 0; row < this.fit.height; row++) {
        if (!landed(row)) continue;
        const r = coreRect(this.layout, row * W);
        const y = Math.round(r.y + r.size / 2);
        const x1 = Math.round(r.x) - 1;
        for (let x = Math.max(0, x1 - 12); x <= x1; x++) for (let d = -1; d <= 1; d++) put(x, y + d, this.colors.kv);
        for (let k = 1; k <= 4; k++) for (let w = -k; w <= k; w++) put(x1 - (4 - k), y + w, this.colors.kv);
      }
    }
    const phase = this.reducedMotion ? 0.5 : (t / 900) % 1;
    this.bins.forEach((segs, b) => {
      const c = this.colors.links[b];
      const thick = b >= BINS / 2 ? 3 : 2;
      for (let i = 0; i < segs.length; i += 4) {
        const x0 = Math.round(segs[i]);
        const y0 = Math.round(segs[i + 1]);
        const x1 = Math.round(segs[i + 2]);
        const y1 = Math.round(segs[i + 3]);
        const h = y0 === y1;
        if (h) {
          for (let x = Math.min(x0, x1); x <= Math.max(x0, x1); x++) for (let d = 0; d < thick; d++) put(x, y0 + d - 1, c);
        } else {
          for (let y = Math.min(y0, y1); y <= Math.max(y0, y1); y++) for (let d = 0; d < thick; d++) put(x0 + d - 1, y, c);
        }
        // An arrowhead at the receiving end: which way the words go.
        const sx = Math.sign(x1 - x0);
        const sy = Math.sign(y1 - y0);
        for (let k = 1; k <= 4; k++) {
          for (let w = -k; w <= k; w++) put(x1 - sx * (4 - k) + (h ? 0 : w), y1 - sy * (4 - k) + (h ? w : 0), c);
        }
        // A word travelling along it.
        const dx = x0 + (x1 - x0) * phase;
        const dy = y0 + (y1 - y0) * phase;
        for (let u = -1; u <= 1; u++) for (let v = -1; v <= 1; v++) put(dx + u, dy + v, this.colors.word);
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
