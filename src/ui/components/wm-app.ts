import { LitElement, css, html } from 'lit';
import { LESSONS } from '../lessons/index.ts';
import { lessonQueries, lessonValues, liveValues } from '../lessons/values.ts';
import { describeScale, formatSeconds, raceSeconds } from '../race-clock.ts';
import { RaceController } from '../race-controller.ts';
import { waferCaption } from '../wafer-caption.ts';
import { serializeState } from '../url-state.ts';
import type { Catalog } from '../../worker/types.ts';
import './wm-controls.ts';
import './wm-fit-report.ts';
import './wm-gpu-view.ts';
import './wm-lesson.ts';
import './wm-race-pane.ts';
import './wm-wafer-view.ts';
import type { SettingsChange } from './wm-controls.ts';
import type { Verdict } from './wm-lesson.ts';

/** How many times the toy GPU is scaled down from the real one (the catalog's bandwidths). */
export function toyScale(catalog: Catalog | null): { factor: number; real: string; toy: string } | null {
  if (!catalog) return null;
  const toy = catalog.hardware.find((h) => h.id === catalog.defaults.gpu);
  const real = catalog.hardware.find((h) => h.kind === 'gpu' && h.id !== catalog.defaults.gpu);
  if (!toy || !real || toy.kind !== 'gpu' || real.kind !== 'gpu') return null;
  return { factor: Math.round(real.figures.hbmBytesPerS.value / toy.figures.hbmBytesPerS.value), real: real.id, toy: toy.id };
}

/** The demo: a lesson (when one is open), controls, the race, the wafer and the GPU. */
export class WmApp extends LitElement {
  private readonly race = new RaceController(this);
  /** The learner's check of the open lesson's question: which choice, and whether a run was started for it. */
  private checked: { lesson: number; choice: number; ran: boolean } | null = null;
  private figuresKey = '';

  static override styles = css`
    :host { display: block; color: var(--wm-text, #1f2430); max-width: 1320px; margin: 0 auto; padding: 16px 20px 40px; box-sizing: border-box; }
    .top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; margin-bottom: 12px; }
    h1 { font-size: 26px; margin: 0; letter-spacing: -0.01em; }
    h1 span { color: var(--wm-muted, #555); font-weight: 400; font-size: 16px; margin-left: 8px; }
    .top nav { margin-left: auto; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
    .top nav a { color: var(--wm-accent-text, #1d4ed8); font-weight: 600; text-decoration: none; padding: 4px 8px; border-radius: 6px; }
    .top nav a:hover, .top nav a:focus-visible { background: var(--wm-accent-soft, #e8effd); outline: none; }
    .top nav a[aria-current='page'] { background: var(--wm-accent, #2563eb); color: var(--wm-on-accent, #fff); }
    .lead { margin: 0 0 14px; color: var(--wm-muted, #555); line-height: 1.55; max-width: 95ch; }
    .msg { background: var(--wm-warn-soft, #fef3c7); color: var(--wm-warn-text, #713f12); border-radius: 8px; padding: 8px 12px; margin: 6px 0; font-size: 13px; overflow-wrap: anywhere; }
    .err { background: var(--wm-error-soft, #fde8e8); color: var(--wm-error-text, #7f1d1d); }
    .card { background: var(--wm-surface, #fff); border: 1px solid var(--wm-border, #dde0e8); border-radius: 12px; padding: 14px 16px; margin-top: 14px; box-shadow: var(--wm-shadow, none); min-width: 0; }
    h2 { font-size: 17px; margin: 0 0 8px; }
    .sub { color: var(--wm-muted, #555); font-size: 13px; margin: 0 0 10px; line-height: 1.5; }
    .panes { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
    .clock { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; font-size: 13px; margin: 0 0 10px; padding: 8px 12px; border-radius: 8px; background: var(--wm-paper, #f6f7fb); }
    .clock b { font-variant-numeric: tabular-nums; font-size: 15px; }
    .summary { margin-top: 10px; font-size: 15px; font-weight: 600; min-height: 1.4em; }
    .grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 14px; }
    .loading { display: flex; align-items: center; gap: 10px; margin-top: 10px; font-size: 13px; color: var(--wm-muted, #555); }
    progress { width: 240px; accent-color: var(--wm-accent, #2563eb); }
    .model { font-size: 12px; color: var(--wm-muted, #555); margin-top: 10px; overflow-wrap: anywhere; }
    footer { margin-top: 24px; font-size: 12px; color: var(--wm-muted, #555); line-height: 1.6; }
    @media (max-width: 900px) { .grid, .panes { grid-template-columns: minmax(0, 1fr); } :host { padding: 12px; } h1 span { display: block; margin: 2px 0 0; } }
  `;

  /**
   * Test hooks, reached through the element: lose the worker's GPU device, kill the worker or make
   * it throw, read
   * the worker's health (live GPU buffers), close the session. The page recovers from the first two on its own.
   */
  get testHooks() {
    const r = this.race;
    return { loseDevice: () => r.loseDevice(), killWorker: () => r.killWorker(), crashWorker: () => r.crashWorker(), health: () => r.health(), closeSession: () => r.closeSession() };
  }

  /** A dead worker (with a restart button) and recoveries from a lost GPU device. */
  private faultNotices() {
    const r = this.race;
    return html`
      ${r.workerLost
        ? html`<div class="msg err" role="alert" data-testid="worker-lost">${r.workerLost}
            <button type="button" data-testid="restart-worker" @click=${() => void r.restart()}>restart the engines</button></div>`
        : ''}
      ${r.recoveries.map((m) => html`<div class="msg" role="status" data-testid="gpu-recovered">GPU recovered: ${m}.</div>`)}
    `;
  }

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

  /** Opens lesson n (0 closes): its state where it differs, the lesson in the URL. */
  private onLessonNav(e: CustomEvent<number>) {
    const n = e.detail;
    this.checked = null;
    const lesson = LESSONS[n - 1];
    void this.race.update({ lesson: n, ...(lesson ? lesson.state : {}) });
  }

  private async onLessonTry() {
    const s = this.race.state;
    const lesson = s ? LESSONS[s.lesson - 1] : undefined;
    if (!lesson || !s) return;
    const a = lesson.tryThis.action;
    if (a.kind === 'step-token') await this.race.stepToken();
    else if (a.kind === 'step-phase') await this.race.stepPhase();
    else if (a.kind === 'play') this.race.play();
    else await this.race.update(a.patch(s));
  }

  private onLessonCheck(e: CustomEvent<number>) {
    const s = this.race.state;
    if (!s) return;
    this.checked = { lesson: s.lesson, choice: e.detail, ran: false };
    this.requestUpdate();
  }

  /** The check's outcome now: the question's check on the live values; a run started when it needs one. */
  private verdict(): Verdict | null {
    const r = this.race;
    const s = r.state;
    const c = this.checked;
    if (!s || !c || c.lesson !== s.lesson) return null;
    const lesson = LESSONS[s.lesson - 1];
    const v = this.values();
    const out = lesson.question.check(v);
    if (!out) {
      // It needs a decoded token: run one (once), as the try-this step would.
      if (lesson.question.needs === 'token' && !c.ran && r.runnable && !r.stepping && !r.playing && !r.real) {
        c.ran = true;
        queueMicrotask(() => void r.stepToken());
      }
      return { state: 'waiting' };
    }
    return { state: 'checked', correct: out.answer === c.choice, answer: out.answer, because: out.because };
  }

  private values() {
    const r = this.race;
    const s = r.state!;
    const lesson = LESSONS[s.lesson - 1];
    const live = liveValues({ info: r.info, events: r.events, revealed: r.revealed, wall: r.wall, real: r.real, finish: { mesh: r.finish('mesh'), gpu: r.finish('gpu') } });
    return lessonValues(lesson, s, r.figureResults, live);
  }

  override updated() {
    // Ask for the open lesson's numbers when the lesson, the state or the model changes.
    const r = this.race;
    const s = r.state;
    const lesson = s && s.lesson > 0 ? LESSONS[s.lesson - 1] : undefined;
    if (!s || !lesson || !r.info) return;
    const key = `${serializeState(s)}|${r.session}`;
    if (key === this.figuresKey) return;
    this.figuresKey = key;
    void r.figures(lessonQueries(lesson, s));
  }

  private raceSection() {
    const r = this.race;
    const s = r.state;
    const info = r.info;
    const lastMesh = !r.real && r.revealed.mesh > 0 ? r.events[r.revealed.mesh - 1] : null;
    const lastGpu = !r.real && r.revealed.gpu > 0 ? r.events[r.revealed.gpu - 1] : null;
    const speed = s?.speed ?? 1;
    const scale = describeScale(r.scale, speed);
    const toy = toyScale(r.catalog);
    const preset = r.catalog?.hardware.find((h) => h.id === s?.preset);
    const core = preset?.kind === 'wafer' ? preset.figures : null;
    const finish = (m: 'mesh' | 'gpu') => {
      const t = r.finish(m);
      const screen = r.scale > 0 ? t / r.scale : 0;
      return `finished in ${formatSeconds(t)} ${r.real?.machines[m].kind ?? 'modelled'} · ${formatSeconds(screen)} on screen at 1×`;
    };
    const both = r.paneDone('mesh') && r.paneDone('gpu');
    const ratio = r.finish('mesh') > 0 ? r.finish('gpu') / r.finish('mesh') : 0;
    const decoding = !r.real && !r.workerDone && r.events.length > 0 && r.playing;
    const real = r.real;
    const notes = {
      mesh: real
        ? `${real.machines.mesh.name}. ${real.source}.`
        : `${info ? `${info.fit.width} × ${info.fit.height}` : ''} ${s?.preset ?? ''} cores${core ? ` (${Math.round(core.sramBytes.value / 1024)} KB of SRAM each, ${core.clockHz.value / 1e9} GHz: real cores, only fewer of them)` : ''}; its speed is modelled from what the fabric moved.`,
      gpu: real
        ? `${real.machines.gpu.name}. Same text, same clock.`
        : toy
          ? `${toy.toy}: an ${toy.real.toUpperCase()} scaled down ${toy.factor.toLocaleString('en')}× (bandwidth, FLOPs, memory and L2 all ÷ ${toy.factor.toLocaleString('en')}), so this small model streams about as long per token as Llama-3.1-8B on a real ${toy.real.toUpperCase()}; its speed is modelled.`
          : '',
    };
    return html`
      <section class="card" aria-labelledby="race-h">
        <h2 id="race-h">The race${real ? ': real scale, in real time' : ''}</h2>
        <p class="sub">
          ${real
            ? 'Pre-generated text, replayed: each pane shows a token when its machine would have written it. One second on screen is one second (at 1×).'
            : `One clock for both panes: each shows a token when its machine, modelled on the preset hardware, would have finished it. The clock is scaled so the slower one takes ${raceSeconds(r.expectedTokens || s?.tokens || 0).toFixed(0)} s on screen at 1×; nothing holds the faster one back. Slow motion (race clock) stretches it to watch the faster one.`}
        </p>
        <div class="clock" data-testid="race-clock" data-scale=${String(r.scale)} data-speed=${String(speed)} data-finish-mesh=${String(r.finish('mesh'))} data-finish-gpu=${String(r.finish('gpu'))}
          data-modelled-now=${String(r.modelledNow)} data-decoded=${String(r.decoded)}>
          <span>race clock <b>${formatSeconds(r.modelledNow)}</b> ${real ? '' : 'modelled'}</span>
          ${r.scale > 0 ? html`<span data-testid="race-scale">1 s on screen = <b>${scale.perScreenSecond}</b> of ${real ? 'real' : 'modelled'} time (${scale.slowMotion})</span>` : html`<span>the scale is set by the first token</span>`}
          ${decoding ? html`<span>the engines are decoding on this computer: ${r.events.length} of ${r.expectedTokens} tokens (wall clock); the clock runs once what it shows is decoded</span>` : ''}
        </div>
        <div class="panes">
          <wm-race-pane machine="mesh" heading=${real ? 'Wafer' : 'Wafer: weights in SRAM, activations on the mesh'} .note=${notes.mesh} .prompt=${real ? '' : (s?.prompt ?? '')}
            .text=${r.text('mesh')} .last=${lastMesh} .real=${real?.machines.mesh ?? null} .count=${r.revealed.mesh} .total=${r.decoded ? r.tracks.mesh.ends.length : r.expectedTokens}
            .done=${r.paneDone('mesh')} .finish=${finish('mesh')} .stage=${r.stage('mesh')}></wm-race-pane>
          <wm-race-pane machine="gpu" heading=${real ? 'GPU' : 'GPU: weights streamed from HBM every token'} .note=${notes.gpu} .prompt=${real ? '' : (s?.prompt ?? '')}
            .text=${r.text('gpu')} .last=${lastGpu} .real=${real?.machines.gpu ?? null} .count=${r.revealed.gpu} .total=${r.decoded ? r.tracks.gpu.ends.length : r.expectedTokens}
            .done=${r.paneDone('gpu')} .finish=${finish('gpu')} .stage=${r.stage('gpu')}></wm-race-pane>
        </div>
        <div class="summary" data-testid="race-summary" data-ratio=${both ? String(ratio) : ''} aria-live="polite">
          ${both
            ? r.disaggregatedSummary ?? `Finish: the wafer in ${formatSeconds(r.finish('mesh'))}, the GPU in ${formatSeconds(r.finish('gpu'))} (${real?.machines.mesh.kind ?? 'modelled'}): the wafer finished ${ratio >= 100 ? Math.round(ratio).toLocaleString('en') : ratio.toPrecision(3)}× sooner.`
            : ''}
        </div>
      </section>
    `;
  }

  override render() {
    const r = this.race;
    const info = r.info;
    const s = r.state;
    const lessonNo = s?.lesson ?? 0;
    const lesson = lessonNo > 0 ? LESSONS[lessonNo - 1] : undefined;
    const wafer = waferCaption(info, r.phase, !r.real && r.revealed.mesh > 0 ? r.events[r.revealed.mesh - 1] : null);
    const lastGpu = !r.real && r.revealed.gpu > 0 ? r.events[r.revealed.gpu - 1] : null;
    const gpuPreset = r.catalog?.hardware.find((h) => h.id === info?.gpuPresetName);
    const step = r.phase?.phases[0] ?? null;
    return html`
      <header class="top">
        <h1>wafermesh<span>a wafer-scale processor against a GPU, token by token</span></h1>
        <nav aria-label="lessons">
          <span>Lessons:</span>
          ${LESSONS.map((l, i) => html`<a href="?lesson=${i + 1}" title=${l.title} aria-label="lesson ${i + 1}: ${l.title}" aria-current=${lessonNo === i + 1 ? 'page' : 'false'}
              @click=${(e: Event) => {
                e.preventDefault();
                this.onLessonNav(new CustomEvent('lesson-nav', { detail: i + 1 }));
              }}>${i + 1}</a>`)}
        </nav>
      </header>
      ${lesson
        ? ''
        : html`<p class="lead">
            Left: an emulated wafer of ${info ? `${info.fit.width} × ${info.fit.height}` : '…'} cores, each with its own SRAM holding a slice of every weight; only activations
            move, over links between neighbours. Right: a conventional GPU streaming every weight from off-chip memory for every token. Same model, same tokens; the speeds
            are modelled for the preset hardware. New here? Start with lesson 1 above.
          </p>`}
      <div role="status">
        ${r.messages.map((m) => html`<div class="msg" data-testid="url-message">${m}</div>`)}
        ${info?.mode === 'cpu'
          ? html`<div class="msg" data-testid="no-webgpu">WebGPU is not available here (${info.noWebgpuReason}). The CPU reference decodes both panes; the modelled numbers are unchanged.</div>`
          : ''}
      </div>
      ${r.error && !r.workerLost ? html`<div class="msg err" role="alert" data-testid="error">${r.error}</div>` : ''}
      ${this.faultNotices()}
      ${lesson && s
        ? html`<wm-lesson .lesson=${lesson} .number=${lessonNo} .count=${LESSONS.length} .state=${s} .values=${this.values()} .verdict=${this.verdict()}
            .busy=${!!r.loading || r.stepping} @lesson-nav=${this.onLessonNav} @lesson-try=${this.onLessonTry} @lesson-check=${this.onLessonCheck}></wm-lesson>`
        : ''}
      <section class="card" aria-label="settings and playback">
        <wm-controls .catalog=${r.catalog} .state=${s} .playing=${r.playback.playing} .busy=${!!r.loading} .canRun=${r.runnable && !r.loading && !r.stepping}
          .canStep=${!r.real} .finished=${r.done} @settings=${this.onSettings} @action=${this.onAction}></wm-controls>
        ${r.loading ? html`<div class="loading" role="status">${r.loading.stage} <progress aria-label="loading" value=${r.loading.fraction}></progress></div>` : ''}
      </section>
      ${this.raceSection()}
      <div class="grid">
        <section class="card" aria-labelledby="wafer-h">
          <h2 id="wafer-h">${wafer.heading}</h2>
          <wm-fit-report .fit=${info?.fit ?? null}></wm-fit-report>
          ${info?.refusal && info.fit.fits ? html`<div class="msg err" data-testid="refusal">${info.refusal}</div>` : ''}
          <wm-wafer-view .fit=${info?.fit ?? null} .perLink=${r.perLink} .label=${wafer.label} .engine=${wafer.engine} .figures=${wafer.figures}
            .step=${step} .layers=${info?.config.nLayers ?? 0} .handoff=${r.handoffView}></wm-wafer-view>
        </section>
        <section class="card" aria-labelledby="gpu-h">
          <h2 id="gpu-h">The GPU: HBM → L2 → compute, every token</h2>
          <wm-gpu-view .bytesPerToken=${lastGpu?.gpuCost.offchipBytes ?? 0} .tokens=${r.real ? 0 : r.revealed.gpu} .kernels=${info ? info.gpuKernels.filter((k) => k.launch).length : 0}
            .l2Bytes=${gpuPreset?.kind === 'gpu' ? gpuPreset.figures.l2Bytes.value : 0}
            .hbmSeconds=${lastGpu ? (lastGpu.gpuCost.time['HBM: weights'] ?? 0) + (lastGpu.gpuCost.time['HBM: KV cache'] ?? 0) : 0}
            .machine=${gpuPreset ? `${gpuPreset.id}: ${gpuPreset.description}` : ''}></wm-gpu-view>
          ${info ? html`<div class="model">model ${info.modelName}: ${info.describe}. ${info.adapter ? `Engines on ${info.adapter}.` : ''}</div>` : ''}
        </section>
      </div>
      <footer>
        Measured: what the engines count as they run here (words on the fabric's links, wall clock). Modelled: the cost model's time and energy for the preset hardware.
        Every number on the page says which it is.
      </footer>
    `;
  }
}
customElements.define('wm-app', WmApp);
declare global {
  interface HTMLElementTagNameMap {
    'wm-app': WmApp;
  }
}
