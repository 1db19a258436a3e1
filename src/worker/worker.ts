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
import { RaceSession } from './session.ts';
import type { Catalog, FigureQuery, FigureResult, PhaseEvent, Progress, RealScaleRace, SessionInfo, SessionRequest, TokenEvent } from './types.ts';
import type { ModelConfig } from '../model/config.ts';

let session: RaceSession | undefined;
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
      const events = await s.stepTokens(n);
      return Comlink.transfer({ events, done: s.done }, events.flatMap((e) => [e.perLink.buffer, e.phaseCycles.buffer] as ArrayBuffer[]));
    });
  },
  stepPhase(): Promise<{ event: PhaseEvent; done: boolean }> {
    return serial(async () => {
      const s = current();
      const event = await s.stepPhase();
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
      session = await RaceSession.open(req, { gpu: browserGpu, fetchBytes }, progress);
      const info = session.info;
      return Comlink.transfer(info, [info.fit.weightWords.buffer, info.fit.kvWords.buffer, info.fit.scratchWords.buffer] as ArrayBuffer[]);
    } finally {
      // A proxied callback holds a port open until released.
      (progress as unknown as { [Comlink.releaseProxy]?: () => void })?.[Comlink.releaseProxy]?.();
    }
}

export type WorkerApi = typeof workerApi;

Comlink.expose(workerApi);
