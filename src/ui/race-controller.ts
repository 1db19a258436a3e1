import * as Comlink from 'comlink';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { WorkerApi } from '../worker/worker.ts';
import type { Catalog, PhaseEvent, Progress, SessionInfo, SessionRequest, TokenEvent } from '../worker/types.ts';
import { PlaybackController } from './playback-controller.ts';
import { parseState, serializeState, type AppState } from './url-state.ts';

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Generated tokens the race reveals per second on screen for the slower machine, at speed 1. */
const SLOW_TOKENS_PER_SCREEN_SECOND = 6;

/**
 * Holds the worker API and all async state of the demo; components only render what it holds and
 * call its methods. The race reveals each machine's tokens on its own modelled clock, scaled so
 * that the slower one shows about six tokens a second; the on-screen clock is `playback`.
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
  /** Modelled seconds per second on screen. */
  scale = 0;
  /** The on-screen clock: playing, seconds on screen, speed. */
  readonly playback: PlaybackController;
  private files: { checkpoint?: ArrayBuffer; tokenizer?: ArrayBuffer } = {};
  private readonly api: Comlink.Remote<WorkerApi>;
  private fetching = false;
  /** A step (token or phase) waiting on the worker: no second one starts meanwhile. */
  stepping = false;
  private generation = 0;

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
    this.playback = new PlaybackController(host, {
      speed: () => this.state?.speed ?? 1,
      canAdvance: () => this.scale > 0,
      frame: (screenSeconds) => this.frame(screenSeconds),
    });
    const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module', name: 'wafermesh-engines' });
    this.api = Comlink.wrap<WorkerApi>(worker);
  }

  hostConnected(): void {
    void this.start();
  }

  hostDisconnected(): void {
    void this.api.close();
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
    this.host.requestUpdate();
    await this.open();
    if (this.state.autoplay && this.runnable) this.play();
  }

  get playing(): boolean {
    return this.playback.playing;
  }

  /** A model is loaded and the wafer runs it: it fits the mesh and the mesh engine took the mesh. */
  get runnable(): boolean {
    return !!this.info && this.info.refusal === null;
  }

  get done(): boolean {
    return this.workerDone && this.revealed.mesh === this.events.length && this.revealed.gpu === this.events.length;
  }

  text(machine: 'mesh' | 'gpu'): string {
    return this.events.slice(0, this.revealed[machine]).map((e) => e[machine].piece).join('');
  }

  /** Changes settings (and the URL); anything but the speed reloads the model. */
  async update(patch: Partial<AppState>, files?: { checkpoint?: ArrayBuffer; tokenizer?: ArrayBuffer }): Promise<void> {
    if (!this.state) return; // the controls appear only once the catalog and the URL are read
    const onlySpeed = Object.keys(patch).every((k) => k === 'speed' || k === 'autoplay');
    this.state = { ...this.state, ...patch, mesh: patch.mesh ?? this.state.mesh };
    if (files) this.files = files;
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
    if (this.scale === 0 && events.length) {
      const slow = Math.max(events[0].gpuCost.seconds, events[0].meshCost.seconds);
      this.scale = slow * SLOW_TOKENS_PER_SCREEN_SECOND;
    }
  }

  play(): void {
    if (!this.runnable || this.playing || this.done) return;
    this.phase = null;
    this.playback.play();
  }

  pause(): void {
    this.playback.pause();
  }

  /** One generated token on both machines, shown at once. */
  async stepToken(): Promise<void> {
    if (!this.runnable || this.playing || this.workerDone || this.stepping || this.fetching) return;
    await this.guard(async (gen) => {
      const { events, done } = await this.api.stepTokens(1);
      if (gen !== this.generation) return;
      this.phase = null;
      this.accept(events, done);
      this.revealAll();
    });
  }

  /** The wafer's next step alone (a compute pass or a fabric phase): what it moved drawn on the wafer. */
  async stepPhase(): Promise<void> {
    if (!this.runnable || this.playing || this.workerDone || this.stepping || this.fetching) return;
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

  private revealAll(): void {
    this.revealed = { mesh: this.events.length, gpu: this.events.length };
    const last = this.events[this.events.length - 1];
    if (last) {
      this.perLink = last.perLink;
      let t = 0;
      for (const e of this.events) t += Math.max(e.meshCost.seconds, e.gpuCost.seconds);
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

  private async fetchAhead(): Promise<void> {
    if (this.fetching || this.stepping || this.workerDone) return;
    const ahead = this.events.length - Math.min(this.revealed.mesh, this.revealed.gpu);
    if (ahead > 8) return;
    this.fetching = true;
    const gen = this.generation;
    try {
      const { events, done } = await this.api.stepTokens(4);
      if (gen === this.generation) this.accept(events, done);
    } catch (e) {
      if (gen === this.generation) {
        this.error = oneLine((e as Error).message);
        this.pause();
      }
    } finally {
      this.fetching = false;
    }
  }

  /** One frame of playback: fetch ahead, reveal what each machine has decoded by now; true when all is shown. */
  private frame(screenSeconds: number): boolean {
    void this.fetchAhead();
    if (this.scale > 0) {
      const modelled = screenSeconds * this.scale;
      for (const m of ['mesh', 'gpu'] as const) {
        let t = 0;
        let n = 0;
        for (const e of this.events) {
          t += m === 'mesh' ? e.meshCost.seconds : e.gpuCost.seconds;
          if (t > modelled) break;
          n++;
        }
        if (n !== this.revealed[m]) {
          this.revealed[m] = n;
          if (m === 'mesh' && n > 0) this.perLink = this.events[n - 1].perLink;
        }
      }
    }
    return this.done;
  }
}
