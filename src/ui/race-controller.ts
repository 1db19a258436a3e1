import * as Comlink from 'comlink';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { WorkerApi } from '../worker/worker.ts';
import type { Catalog, FigureQuery, FigureResult, HandoffReport, PhaseEvent, PrefillReport, Progress, RealScaleRace, ServingMode, SessionInfo, SessionRequest, TokenEvent, WorkerHealth } from '../worker/types.ts';
import { paneStage, type PaneStage } from './prefill-view.ts';
import { PlaybackController } from './playback-controller.ts';
import { chooseScale, covered, emptyTrack, extend, formatSeconds, revealedAt, trackSeconds, type Track } from './race-clock.ts';
import { LESSONS } from './lessons/index.ts';
import { lessonPatchFor } from './lessons/lesson.ts';
import { modelHasTokenizer, parseState, placementConflict, promptClearedMessage, serializeState, type AppState } from './url-state.ts';

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Tokens asked of the worker at a time while the race decodes (small, so progress shows). */
const CHUNK = 4;

/** Seconds on screen the race clock waits at the KV cache's hand-off (disaggregated): its modelled microseconds are too short to see at the race's scale. */
export const HANDOFF_HOLD_S = 3;
/** How often the page asks the worker whether it is alive, and how long an answer may take before the worker counts as dead (ms). */
const HEARTBEAT_MS = 1000;
const DEAD_AFTER_MS = 5000;
/**
 * While a call that computes for long without yielding is in flight (a lesson's figures: fit,
 * predict and placement searches; opening a large dropped checkpoint), the worker cannot answer
 * the heartbeat, so its silence is allowed this long instead (ms).
 */
const BUSY_DEAD_AFTER_MS = 120_000;
const LONG_CALLS = new Set<string | symbol>(['figures', 'open']);

export type Machine = 'mesh' | 'gpu';

/**
 * Holds the worker API and all async state of the demo; components only render what it holds and
 * call its methods. The race has one clock for both panes: modelled time = seconds on screen ×
 * `scale` × speed, `scale` chosen so the slower machine finishes in 10–60 s at 1×; each pane
 * reveals a token once its machine's modelled time reaches the token's end, and nothing holds the
 * faster one back. The engines decode ahead (wall clock on this machine); the clock waits only
 * until what it would reveal is decoded. The on-screen clock is `playback`.
 *
 * On connecting it first asks the worker for the catalog, then reads the URL against it: until
 * then `catalog` and `state` are null.
 */
export class RaceController implements ReactiveController {
  catalog: Catalog | null = null;
  state: AppState | null = null;
  messages: string[] = [];
  info: SessionInfo | null = null;
  loading: { stage: string; fraction: number } | null = null;
  error: string | null = null;
  events: TokenEvent[] = [];
  revealed = { mesh: 0, gpu: 0 };
  /** The wafer's step run alone last (step phase), while it is what the wafer shows; null once tokens are shown again. */
  phase: PhaseEvent | null = null;
  /** Words per link to draw on the wafer: the last step run alone, or the last token revealed. */
  perLink: Float32Array | null = null;
  workerDone = false;
  /** Modelled seconds per second on screen at 1×. */
  scale = 0;
  /** Each pane's tokens and the modelled time each is done by: the engines' events, or a real-scale replay. */
  tracks: Record<Machine, Track> = { mesh: emptyTrack(), gpu: emptyTrack() };
  /** The real-scale race being replayed (race ≠ emulated), or null. */
  real: RealScaleRace | null = null;
  /** Wall clock on this machine spent decoding the race's tokens (both engines), for what is measured here. */
  wall = { ms: 0, tokens: 0 };
  /** Numbers a lesson asked for, by query key (see `figures`). */
  figureResults = new Map<string, FigureResult>();
  /** The on-screen clock: playing, seconds on screen, speed. */
  readonly playback: PlaybackController;
  private files: { checkpoint?: ArrayBuffer; tokenizer?: ArrayBuffer } = {};
  private api!: Comlink.Remote<WorkerApi>; // replaced when the worker is restarted
  private fetching = false;
  /** A step (token or phase) waiting on the worker: no second one starts meanwhile. */
  stepping = false;
  private generation = 0;
  /** Disaggregated: the race clock waits at the hand-off until this time (performance.now() ms); once per play-through. */
  private holdUntil = 0;
  private holdStart = 0;
  private handoffHeld = false;
  /** The hand-off's fabric phase shown while the clock waits at it; null for all of them together. */
  handoffPhase: number | null = null;

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
    this.playback = new PlaybackController(host, {
      speed: () => this.state?.speed ?? 1,
      canAdvance: () => this.canAdvance(),
      frame: (screenSeconds) => this.frame(screenSeconds),
    });
    this.connect();
  }

  hostConnected(): void {
    if (!this.link) this.connect(); // connected again after a disconnect stopped the worker
    void this.start();
  }

  hostDisconnected(): void {
    this.api.close().catch(() => undefined); // rejected once the worker stops, just below
    this.link?.stop();
    this.link = undefined;
  }

  // ---- The worker's health: a dead worker noticed within seconds, a lost GPU's recovery shown.

  /** Set when the worker died (crashed, or stopped answering): one line; the page offers a restart. */
  workerLost: string | null = null;
  /** The open session's recoveries from a lost GPU device, one line each (the worker's words). */
  recoveries: string[] = [];
  private link: { worker: Worker; stop: () => void } | undefined;

  /**
   * Starts the engines' worker. Every call to it is raced against its death: when it fails (an
   * 'error' event) or leaves a heartbeat unanswered for DEAD_AFTER_MS, the calls still pending are
   * rejected, none left hanging, and the page says so with a way to restart.
   */
  private connect(): void {
    this.link?.stop();
    // Calls on the old worker were rejected; a new one starts with nothing in flight.
    this.fetching = false;
    this.stepping = false;
    const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module', name: 'wafermesh-engines' });
    const remote = Comlink.wrap<WorkerApi>(worker);
    let fail: (e: Error) => void = () => undefined;
    const dead = new Promise<never>((_, reject) => (fail = reject));
    dead.catch(() => undefined);
    let pingSince = 0; // when the unanswered heartbeat was sent; 0 when none is pending
    let longCalls = 0; // LONG_CALLS in flight
    const timer = setInterval(() => {
      const limit = longCalls > 0 ? BUSY_DEAD_AFTER_MS : DEAD_AFTER_MS;
      if (pingSince && performance.now() - pingSince > limit) return died(`it has not answered for ${limit / 1000} s`);
      if (pingSince) return;
      pingSince = performance.now();
      const gen = this.generation;
      remote.health().then((h) => {
        pingSince = 0;
        if (gen === this.generation) this.onHealth(h);
      }, () => undefined);
    }, HEARTBEAT_MS);
    const stop = () => {
      clearInterval(timer);
      worker.terminate();
      // Whatever still waits on this worker is rejected (the page left, or a new worker replaces it): nothing is left hanging.
      fail(new Error("worker-stopped: the engines' worker was stopped"));
    };
    const died = (why: string) => {
      if (this.link?.worker !== worker) return;
      const msg = `worker-died: the engines' worker stopped (${why}); your settings are kept in the address bar: restart the engines to load them again`;
      fail(new Error(msg));
      stop();
      this.workerLost = msg;
      this.pause();
      this.loading = null;
      this.host.requestUpdate();
    };
    worker.addEventListener('error', (e) => died(`it failed: ${oneLine(e.message || 'an error it did not catch')}`));
    this.link = { worker, stop };
    const call = (method: string | symbol, args: unknown[]) => Promise.race([(remote as unknown as Record<string | symbol, (...a: unknown[]) => Promise<unknown>>)[method](...args), dead]);
    this.api = new Proxy({} as Comlink.Remote<WorkerApi>, {
      get: (_, method) => (...args: unknown[]) => {
        // Without WebGPU the CPU engines decode a chunk without pausing, so steps get the long allowance too.
        const long = LONG_CALLS.has(method) || (this.info?.mode === 'cpu' && (method === 'stepTokens' || method === 'stepPhase'));
        if (!long) return call(method, args);
        longCalls++;
        return call(method, args).finally(() => longCalls--);
      },
    });
  }

  private onHealth(h: WorkerHealth): void {
    if (h.recoveries.length !== this.recoveries.length) {
      this.recoveries = h.recoveries;
      this.host.requestUpdate();
    }
  }

  /** A new worker, and the session the URL names loaded in it (the URL was kept as it was). */
  async restart(): Promise<void> {
    this.connect();
    this.workerLost = null;
    this.error = null;
    await this.start();
  }

  /** The worker's heartbeat answer now (live GPU buffers, recoveries). */
  health(): Promise<WorkerHealth> {
    return this.api.health();
  }

  /** Closes the worker's session (its engines and device), as leaving the page does. */
  closeSession(): Promise<void> {
    return this.api.close();
  }

  /** Test hook: the worker loses its GPU device now, mid-step if one runs; the race recovers. */
  loseDevice(): Promise<boolean> {
    return this.api.loseDevice();
  }

  /** Test hook: kills the worker outright, as a crash would; the heartbeat notices. */
  killWorker(): void {
    this.link?.worker.terminate();
  }

  /** Test hook: the worker throws an error nobody catches; its 'error' event is noticed at once. */
  crashWorker(): Promise<void> {
    return this.api.crash();
  }

  /** The catalog first (the URL is checked against it), then the model the URL names. */
  private async start(): Promise<void> {
    try {
      this.catalog = await this.api.catalog();
    } catch (e) {
      this.error = oneLine((e as Error).message);
      this.host.requestUpdate();
      return;
    }
    const parsed = parseState(location.search, this.catalog);
    this.state = parsed.state;
    this.messages = parsed.errors;
    // A lesson's state, except what the URL itself says (a lesson opened with another mesh shows that mesh).
    if (this.state.lesson > LESSONS.length) {
      this.messages.push(`lesson=${this.state.lesson} is not a lesson (there are ${LESSONS.length}); showing the demo`);
      this.state = { ...this.state, lesson: 0 };
    } else if (this.state.lesson > 0) {
      this.state = { ...this.state, ...lessonPatchFor(LESSONS[this.state.lesson - 1], location.search) };
    }
    history.replaceState(null, '', serializeState({ ...this.state, autoplay: false }));
    this.host.requestUpdate();
    await this.open();
    if (this.state.autoplay && this.runnable) this.play();
  }

  /** Which session is open: changes on every load (results for an older one are dropped). */
  get session(): number {
    return this.generation;
  }

  get playing(): boolean {
    return this.playback.playing;
  }

  /** A model is loaded and the wafer runs it: it fits the mesh and the mesh engine took the mesh. */
  get runnable(): boolean {
    return !!this.info && this.info.refusal === null;
  }

  /** Every token decoded (or the replay loaded): the tracks are whole. */
  get decoded(): boolean {
    return this.real ? true : this.workerDone;
  }

  /** A pane has shown all of its tokens. */
  paneDone(m: Machine): boolean {
    return this.decoded && this.tracks[m].ends.length > 0 && this.revealed[m] === this.tracks[m].ends.length;
  }

  get done(): boolean {
    return this.paneDone('mesh') && this.paneDone('gpu');
  }

  /** Modelled seconds on the race clock now. */
  get modelledNow(): number {
    return this.playback.screenSeconds * this.scale;
  }

  /** Modelled seconds a pane takes for all its tokens (what is decoded so far while decoding). */
  finish(m: Machine): number {
    return trackSeconds(this.tracks[m]);
  }

  text(machine: Machine): string {
    return this.tracks[machine].pieces.slice(0, this.revealed[machine]).join('');
  }

  /** The number of tokens the race will have: all of the replay, or what the URL asks for. */
  get expectedTokens(): number {
    return this.real ? this.real.pieces.length : this.workerDone ? this.events.length : (this.state?.tokens ?? 0);
  }

  /** Changes settings (and the URL); anything but the speed reloads the model. */
  async update(patch: Partial<AppState>, files?: { checkpoint?: ArrayBuffer; tokenizer?: ArrayBuffer }): Promise<void> {
    if (!this.state) return; // the controls appear only once the catalog and the URL are read
    const old = this.state;
    // Only what changes the session reloads it: the clock's speed, autoplay and the lesson do not, nor values already set.
    const onlySpeed = !files && Object.entries(patch).every(([k, v]) => k === 'speed' || k === 'autoplay' || k === 'lesson' || JSON.stringify(v) === JSON.stringify(old[k as keyof AppState]));
    this.state = { ...this.state, ...patch, mesh: patch.mesh ?? this.state.mesh };
    if (files) this.files = files;
    this.messages = [];
    // The pipelined placement runs with the monolithic mode only: with the disaggregated mode it falls back to whole, with a word.
    const conflict = placementConflict(this.state);
    if (conflict) {
      this.messages.push(conflict);
      this.state = { ...this.state, placement: 'whole' };
    }
    // A model without a tokenizer starts from BOS: a prompt would be refused, so it is cleared, with a word.
    if (this.state.prompt !== '' && !modelHasTokenizer(this.state.model, this.state.model === 'file' ? this.files : undefined)) {
      this.messages.push(promptClearedMessage(this.state.model));
      this.state = { ...this.state, prompt: '' };
      if (onlySpeed) {
        history.replaceState(null, '', serializeState({ ...this.state, autoplay: false }));
        await this.open();
        return;
      }
    }
    history.replaceState(null, '', serializeState({ ...this.state, autoplay: false }));
    this.host.requestUpdate();
    if (!onlySpeed) await this.open();
  }

  private request(): SessionRequest {
    const s = this.state!;
    return {
      model: s.model,
      ...(s.model === 'file' ? this.files : {}),
      modelBaseUrl: new URL('models/', document.baseURI).href,
      mesh: s.mesh,
      preset: s.preset,
      // parseState and the controls' select only let through the catalog's allreduce ids.
      allreduce: s.allreduce as SessionRequest['allreduce'],
      prompt: s.prompt,
      tokens: s.tokens,
      temperature: s.temperature,
      topP: s.topP,
      seed: s.seed,
      serving: s.serving,
      placement: s.placement,
    };
  }

  /** Loads the model on the chosen mesh; errors become a message, the page stays usable. */
  async open(): Promise<void> {
    const gen = ++this.generation;
    this.pause();
    this.info = null;
    this.error = null;
    this.events = [];
    this.revealed = { mesh: 0, gpu: 0 };
    this.phase = null;
    this.perLink = null;
    this.workerDone = false;
    this.playback.reset();
    this.scale = 0;
    this.tracks = { mesh: emptyTrack(), gpu: emptyTrack() };
    this.real = null;
    this.wall = { ms: 0, tokens: 0 };
    this.figureResults = new Map();
    this.holdUntil = 0;
    this.handoffHeld = false;
    this.handoffPhase = null;
    this.recoveries = [];
    this.loading = { stage: 'starting the engines', fraction: 0 };
    this.host.requestUpdate();
    try {
      const req = this.request();
      const info = await this.api.open(
        req,
        Comlink.proxy((p: Progress) => {
          if (gen !== this.generation) return;
          this.loading = p;
          this.host.requestUpdate();
        }),
      );
      if (gen !== this.generation) return;
      this.info = info;
      this.perLink = null;
      if (this.state!.race !== 'emulated') {
        this.loading = { stage: 'loading the pre-generated text', fraction: 0.95 };
        this.host.requestUpdate();
        const real = await this.api.realScale(this.state!.race === 'seed' ? 'seed' : 'llama-8b', new URL('real-scale/stories.json', document.baseURI).href);
        if (gen !== this.generation) return;
        this.real = real;
        const n = real.pieces.length;
        extend(this.tracks.mesh, real.pieces, new Array(n).fill(1 / real.machines.mesh.tokensPerS));
        extend(this.tracks.gpu, real.pieces, new Array(n).fill(1 / real.machines.gpu.tokensPerS));
        // Real time: one modelled second is one second on screen (slow motion still stretches it).
        this.scale = 1;
      }
    } catch (e) {
      if (gen !== this.generation) return;
      this.error = oneLine((e as Error).message);
    } finally {
      if (gen === this.generation) {
        this.loading = null;
        this.host.requestUpdate();
      }
    }
  }

  private accept(events: TokenEvent[], done: boolean): void {
    this.events.push(...events);
    this.workerDone = done;
    const disaggregated = this.serving === 'disaggregated';
    for (const m of ['mesh', 'gpu'] as const) {
      // The first token ends each pane's prefill: it is shown at the pane's time to first token (modelled).
      const seconds = (e: TokenEvent) => (e.prefill ? (m === 'mesh' ? e.prefill.meshTtftSeconds : e.prefill.gpu.modelledSeconds) : (m === 'mesh' ? e.meshCost : e.gpuCost).seconds);
      // Disaggregated, the GPU's track is its prefill alone: it hands over and decodes nothing.
      const own = m === 'gpu' && disaggregated ? events.filter((e) => e.prefill) : events;
      extend(this.tracks[m], own.map((e) => e[m].piece), own.map(seconds));
    }
    // The scale is fixed before the clock first moves (it moves once what it reveals is decoded),
    // from the whole decode when it is done, else extrapolated from what is.
    if (this.playback.screenSeconds === 0 && this.events.length) this.scale = chooseScale(disaggregated ? [this.tracks.mesh] : [this.tracks.mesh, this.tracks.gpu], this.expectedTokens);
  }

  /** Whether the race clock may run: the emulated race once its scale is known, a replay at once. */
  private canAdvance(): boolean {
    if (this.scale <= 0 || this.holding) return false;
    const next = (this.playback.screenSeconds + 0.1 * (this.state?.speed ?? 1)) * this.scale;
    // Disaggregated, the GPU's track (its prefill) is whole with the first token: only the wafer's can hold the clock.
    const decoding = this.serving === 'disaggregated' ? [this.tracks.mesh] : [this.tracks.mesh, this.tracks.gpu];
    return covered(decoding, Math.min(next, Math.max(this.finish('mesh'), this.finish('gpu'))), !this.decoded);
  }

  /** Plays the race; once it has finished, plays it again from the start (the same tokens, e.g. in slow motion). */
  play(): void {
    if (!this.runnable || this.playing) return;
    if (this.done) {
      this.playback.reset();
      this.revealed = { mesh: 0, gpu: 0 };
      this.handoffHeld = false;
    }
    this.phase = null;
    this.playback.play();
  }

  pause(): void {
    this.playback.pause();
  }

  /** One generated token on both machines, shown at once. */
  async stepToken(): Promise<void> {
    if (!this.runnable || this.real || this.playing || this.workerDone || this.stepping || this.fetching) return;
    await this.guard(async (gen) => {
      const t0 = performance.now();
      const { events, done } = await this.api.stepTokens(1);
      if (gen !== this.generation) return;
      this.measureWall(t0, events.length);
      // What the wafer shows is now the token, not the phase stepped before it.
      this.phase = null;
      this.accept(events, done);
      this.revealAll();
      if (!events.length) this.perLink = null;
    });
  }

  private measureWall(t0: number, tokens: number): void {
    this.wall = { ms: this.wall.ms + performance.now() - t0, tokens: this.wall.tokens + tokens };
  }

  /** The wafer's next step alone (a compute pass or a fabric phase): what it moved drawn on the wafer. */
  async stepPhase(): Promise<void> {
    // Disaggregated, the first step is the GPU's prefill and the hand-off; the wafer's phases come after it.
    if (this.serving === 'disaggregated' && this.events.length === 0) return this.stepToken();
    if (!this.runnable || this.real || this.playing || this.workerDone || this.stepping || this.fetching) return;
    await this.guard(async (gen) => {
      const { event, done } = await this.api.stepPhase();
      if (gen !== this.generation) return;
      this.phase = event;
      this.perLink = event.perLink;
      if (event.token) {
        this.accept([event.token], done);
        this.revealAll();
        this.perLink = event.perLink;
      } else {
        this.workerDone = done;
      }
    });
  }

  /** Stepping shows every decoded token in both panes at once; the clock moves to where the slower one ends. */
  private revealAll(): void {
    this.revealed = { mesh: this.events.length, gpu: this.tracks.gpu.ends.length }; // disaggregated, the GPU's track is its prefill alone
    const last = this.events[this.events.length - 1];
    if (last) {
      this.perLink = last.perLink;
      const t = Math.max(this.finish('mesh'), this.finish('gpu'));
      this.playback.seek(this.scale > 0 ? t / this.scale : 0);
    }
    this.host.requestUpdate();
  }

  /** Runs one step; results and errors of a session replaced meanwhile are dropped. */
  private async guard(f: (gen: number) => Promise<void>): Promise<void> {
    const gen = this.generation;
    this.stepping = true;
    this.host.requestUpdate();
    try {
      await f(gen);
    } catch (e) {
      if (gen === this.generation) {
        this.error = oneLine((e as Error).message);
        this.pause();
      }
    } finally {
      this.stepping = false;
    }
    this.host.requestUpdate();
  }

  /** Decodes the next few tokens on both engines: no cap, the race decodes to its end while it plays. */
  private async fetchAhead(): Promise<void> {
    if (this.real || this.fetching || this.stepping || this.workerDone) return;
    this.fetching = true;
    const gen = this.generation;
    try {
      const t0 = performance.now();
      const { events, done } = await this.api.stepTokens(CHUNK);
      if (gen === this.generation) {
        this.measureWall(t0, events.length);
        this.accept(events, done);
        this.host.requestUpdate();
      }
    } catch (e) {
      if (gen === this.generation) {
        this.error = oneLine((e as Error).message);
        this.pause();
      }
    } finally {
      this.fetching = false;
    }
  }

  /** One frame of playback: decode ahead, reveal what each machine has done by the race clock; true when all is shown. */
  private frame(screenSeconds: number): boolean {
    void this.fetchAhead();
    if (this.scale > 0) {
      const modelled = screenSeconds * this.scale;
      for (const m of ['mesh', 'gpu'] as const) {
        const n = revealedAt(this.tracks[m], modelled);
        if (n !== this.revealed[m]) {
          this.revealed[m] = n;
          if (m === 'mesh' && n > 0 && !this.real) this.perLink = this.events[n - 1].perLink;
        }
      }
      if (this.serving === 'disaggregated' && !this.real) this.holdAtHandoff();
    }
    return this.done;
  }

  /**
   * Disaggregated: once the wafer's first id is due (the GPU's prefill and the hand-off done), the
   * race clock waits HANDOFF_HOLD_S on screen while the wafer shows the hand-off's fabric phases
   * one after another, as the fabric counted them; then it goes on. Said on the page.
   */
  private holdAtHandoff(): void {
    const now = performance.now();
    if (!this.handoffHeld && this.revealed.mesh > 0) {
      this.handoffHeld = true;
      this.holdStart = now;
      this.holdUntil = now + HANDOFF_HOLD_S * 1000;
    }
    if (now < this.holdUntil) {
      this.revealed.mesh = 1;
      const phases = this.events[0]?.prefill?.handoff?.phases ?? [];
      this.handoffPhase = phases.length ? Math.min(phases.length - 1, Math.floor(((now - this.holdStart) / (HANDOFF_HOLD_S * 1000)) * phases.length)) : null;
      this.perLink = this.handoffPhase === null ? (this.events[0]?.perLink ?? null) : phases[this.handoffPhase].perLink;
    } else if (this.handoffPhase !== null) {
      this.handoffPhase = null;
      const n = this.revealed.mesh;
      if (n > 0) this.perLink = this.events[n - 1].perLink;
    }
  }

  /** How the race runs the prompt (the session's, once one is open). */
  get serving(): ServingMode {
    return this.info?.serving ?? this.state?.serving ?? 'monolithic';
  }

  /** The race clock waits at the hand-off now. */
  get holding(): boolean {
    return performance.now() < this.holdUntil;
  }

  /** The prefill of the race (on its first token), once decoded here. */
  get prefillReport(): PrefillReport | null {
    return (!this.real && this.events[0]?.prefill) || null;
  }

  /** A pane's stage (prefill, hand-off, decode) and its time to first token. */
  stage(m: Machine): PaneStage | null {
    if (this.real || !this.info) return null;
    return paneStage({ machine: m, serving: this.serving, report: this.prefillReport, revealed: this.revealed[m], total: this.tracks[m].ends.length, decoded: this.decoded, holding: this.holding });
  }

  /** What the wafer view shows of the hand-off: while its first token is what the wafer shows (not a step run alone). */
  get handoffView(): { report: HandoffReport; phase: number | null; holding: boolean } | null {
    const h = this.prefillReport?.handoff;
    if (!h || this.phase || this.revealed.mesh !== 1) return null;
    return { report: h, phase: this.holding ? this.handoffPhase : null, holding: this.holding };
  }

  /** The finish line of the disaggregated race (null otherwise): the GPU's prefill, the crossing, the wafer's first and last tokens, modelled. */
  get disaggregatedSummary(): string | null {
    const p = this.prefillReport;
    if (this.serving !== 'disaggregated' || !p?.handoff || !this.done) return null;
    const f = (s: number) => formatSeconds(s);
    return `Finish (modelled): the GPU prefilled in ${f(p.gpu.modelledSeconds)}, the KV cache crossed in ${f(p.handoff.modelledSeconds)}, the wafer's first token at ${f(p.meshTtftSeconds)} and its last at ${f(this.finish('mesh'))}.`;
  }

  /**
   * Asks the worker for the numbers a lesson quotes (computed now by the functions the CLI uses),
   * keeping them by query key; answers for a model replaced meanwhile are dropped.
   */
  async figures(queries: FigureQuery[]): Promise<void> {
    const gen = this.generation;
    const config = this.info?.config ?? null;
    try {
      const results = await this.api.figures(config, queries);
      if (gen !== this.generation) return;
      for (const r of results) this.figureResults.set(r.key, r);
    } catch (e) {
      if (gen === this.generation) this.error = oneLine((e as Error).message);
    }
    this.host.requestUpdate();
  }
}
