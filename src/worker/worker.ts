/// <reference lib="webworker" />
// The demo's Web Worker: the engines run here, behind the comlink API below — the only door
// between the UI and the engines. Calls are coarse (open, step tokens, step one pass); large
// arrays are transferred, not copied; progress goes through one proxied callback.
import * as Comlink from 'comlink';
import { catalogData } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { browserGpu } from '../gpu/browser.ts';
import { computeFigures } from './figures.ts';
import { realScaleRace, type RealScaleChoice, type RealScaleText } from './real-scale.ts';
import { BufferCount } from './buffer-count.ts';
import { keptDevice } from './kept-device.ts';
import { RaceSession } from './session.ts';
import type { Catalog, FigureQuery, FigureResult, PhaseEvent, Progress, RealScaleRace, SessionInfo, SessionRequest, TokenEvent, WorkerHealth } from './types.ts';
import type { ModelConfig } from '../model/config.ts';

let session: RaceSession | undefined;
/** Every GPU buffer made on a device this worker took, until destroyed (the leak check's count). */
const buffers = new BufferCount();
// One device kept across sessions (replaced when lost), every buffer made on it counted.
const gpu = keptDevice(buffers.counted(browserGpu));
// Calls run one after another, in the order they came: a second open or step waits for the first.
let chain: Promise<unknown> = Promise.resolve();
function serial<T>(f: () => Promise<T>): Promise<T> {
  const next = chain.then(f, f);
  chain = next.catch(() => undefined);
  return next;
}

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new WafermeshError('fetch-failed', `could not load ${url} (HTTP ${r.status}); is the demo served with its models/ folder?`);
  return r.arrayBuffer();
}

function current(): RaceSession {
  if (!session) throw new WafermeshError('no-session', 'no model is loaded yet; press load');
  return session;
}

export const workerApi = {
  /** The catalog the page builds its lists, defaults and URL checks from (plain data, cloned). */
  catalog(): Catalog {
    return catalogData();
  },
  open(req: SessionRequest, progress?: (p: Progress) => void): Promise<SessionInfo> {
    return serial(() => openNow(req, progress));
  },
  stepTokens(n: number): Promise<{ events: TokenEvent[]; done: boolean }> {
    return serial(async () => {
      const s = current();
      const events = await s.stepTokensRecovering(n);
      return Comlink.transfer({ events, done: s.done }, events.flatMap((e) => [e.perLink.buffer, e.phaseCycles.buffer] as ArrayBuffer[]));
    });
  },
  stepPhase(): Promise<{ event: PhaseEvent; done: boolean }> {
    return serial(async () => {
      const s = current();
      const event = await s.stepPhaseRecovering();
      const bufs = [event.perLink.buffer, ...(event.token ? [event.token.perLink.buffer, event.token.phaseCycles.buffer] : [])] as ArrayBuffer[];
      return Comlink.transfer({ event, done: s.done }, bufs);
    });
  },
  /**
   * Numbers a lesson quotes, computed now by the functions the CLI prints them with (fit, trace,
   * predict, the cost model), for `config` (the model the page has loaded) or catalog models.
   * Pure arithmetic on shapes: it does not wait for the engines.
   */
  figures(config: ModelConfig | null, queries: FigureQuery[]): FigureResult[] {
    return computeFigures(config, queries);
  },
  /** The real-scale race: the pre-generated text served at `textUrl`, with the speeds to replay it at (predict's, or the seed's published pair). */
  async realScale(choice: RealScaleChoice, textUrl: string): Promise<RealScaleRace> {
    const bytes = await fetchBytes(textUrl);
    const text = JSON.parse(new TextDecoder().decode(bytes)) as RealScaleText;
    return realScaleRace(choice, text);
  },
  /**
   * The page's heartbeat, answered at once (not queued behind a step): the recoveries from lost
   * devices so far, and the live GPU buffers over every device this worker took.
   */
  health(): WorkerHealth {
    return { recoveries: [...(session?.recoveries ?? [])], liveBuffers: buffers.live, createdBuffers: buffers.created };
  },
  /** Test hook: loses the session's GPU device now, as a driver reset would (not queued: it can land mid-step). */
  loseDevice(): boolean {
    if (!session?.info || session.info.mode !== 'webgpu') return false;
    session.loseDevice();
    return true;
  },
  /** Test hook: an error nobody catches, thrown in the worker outside any call, as a crash would be. */
  crash(): void {
    setTimeout(() => {
      throw new Error('worker-crash: a crash on purpose (test hook)');
    });
  },
  close(): Promise<void> {
    return serial(async () => {
      session?.dispose();
      session = undefined;
    });
  },
};

async function openNow(req: SessionRequest, progress?: (p: Progress) => void): Promise<SessionInfo> {
    session?.dispose();
    session = undefined;
    try {
      const s = await RaceSession.open(req, { gpu, fetchBytes, keepsDevice: true }, progress);
      session = s;
      // A device lost while nothing runs is replaced at once; one lost mid-step, by that step.
      s.onDeviceLost = () => void serial(() => (s === session ? s.recover() : Promise.resolve())).catch(() => undefined);
      const info = s.info;
      return Comlink.transfer(info, [info.fit.weightWords.buffer, info.fit.kvWords.buffer, info.fit.scratchWords.buffer] as ArrayBuffer[]);
    } finally {
      // A proxied callback holds a port open until released.
      (progress as unknown as { [Comlink.releaseProxy]?: () => void })?.[Comlink.releaseProxy]?.();
    }
}

export type WorkerApi = typeof workerApi;

Comlink.expose(workerApi);
