/**
 * A soak: for `--minutes` in all (shared evenly by the engines), each engine (cpu, gpu, mesh)
 * greedy-decodes stories260K from BOS to its context limit (every position its KV cache holds,
 * BOS ids fed on like any other), resets and does it again; then the demo's race session is
 * opened, stepped two tokens and closed `--sessions` times in one process, as the worker does.
 * Each engine's line gives tokens/s (wall clock on this driver), the process's RSS and JS heap
 * (after a full collection) and the live GPU buffers, at its first run and at its last; the
 * sessions' lines, the same before the first session, after it, and after the last.
 *
 *   node tools/soak/run.mjs [--minutes 3] [--sessions 100] [--model ../shared/models/stories260K.bin] [--mesh 8x8] [--json]
 */
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT, loadModel } from '../../src/cli/load.ts';
import { createMachine, type EngineName } from '../../src/engines/index.ts';
import type { Machine } from '../../src/engines/machine.ts';
import { oneLine, WafermeshError } from '../../src/errors.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { BOS } from '../../src/model/config.ts';
import { BufferCount } from '../../src/worker/buffer-count.ts';
import { keptDevice } from '../../src/worker/kept-device.ts';
import { RaceSession } from '../../src/worker/session.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The process's memory after a full collection, in MB. */
function memory(): { rssMB: number; heapMB: number } {
  gc();
  const m = process.memoryUsage();
  return { rssMB: m.rss / 2 ** 20, heapMB: m.heapUsed / 2 ** 20 };
}

interface Mark {
  run: number;
  tokensPerS: number;
  rssMB: number;
  heapMB: number;
  liveBuffers: number;
}

/** One run: BOS, then the greedy id at every position up to the context limit (on the wafer, found there). */
async function decodeToLimit(m: Machine): Promise<{ tokens: number; seconds: number }> {
  m.reset();
  const t0 = performance.now();
  let token = BOS;
  for (let pos = 0; pos < m.context; pos++) {
    if (m.greedy) token = await m.greedy(token, pos, pos === 0);
    else {
      const logits = await m.forward(token, pos);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      token = best;
    }
  }
  return { tokens: m.context, seconds: (performance.now() - t0) / 1e3 };
}

const fmt = (m: Mark) => `run ${String(m.run).padStart(3)}: ${m.tokensPerS.toFixed(1).padStart(8)} tokens/s  RSS ${m.rssMB.toFixed(1).padStart(7)} MB  heap ${m.heapMB.toFixed(1).padStart(6)} MB  live GPU buffers ${m.liveBuffers}`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '3' },
      sessions: { type: 'string', default: '100' },
      model: { type: 'string', default: resolve(PROJECT_ROOT, '../shared/models/stories260K.bin') },
      mesh: { type: 'string', default: '8x8' },
      json: { type: 'boolean' },
    },
  });
  try {
    const minutes = Number(values.minutes);
    const sessions = Number(values.sessions);
    if (!(minutes > 0)) throw new WafermeshError('bad-option', `--minutes ${values.minutes} must be a number > 0`);
    if (!Number.isInteger(sessions) || sessions < 0) throw new WafermeshError('bad-option', `--sessions ${values.sessions} must be a whole number ≥ 0`);
    const meshSize = /^(\d+)x(\d+)$/.exec(values.mesh!);
    if (!meshSize) throw new WafermeshError('bad-option', `--mesh ${values.mesh} must be WxH, e.g. 8x8`);
    const { model, name } = await loadModel(values.model!);
    const mesh = meshFromPreset('wse-3', Number(meshSize[1]), Number(meshSize[2]));
    const count = new BufferCount();
    const ctx = count.watch(await nodeGpu());
    let commit = 'unknown';
    try {
      commit = execSync('git rev-parse --short HEAD', { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    } catch {
      // not a git checkout
    }
    console.log(`soak: ${name} (dim ${model.config.dim}, ${model.config.nLayers} layers, seq_len ${model.config.seqLen}); adapter ${ctx.adapterName}; commit ${commit}; node ${process.version}`);
    console.log(`${minutes} min of decoding in all (${(minutes / 3).toFixed(2)} min an engine), then ${sessions} demo sessions opened and closed; tokens/s is wall clock on this driver, memory after a full collection`);
    const engines: EngineName[] = ['cpu', 'gpu', 'mesh'];
    const results: { engine: string; context: number; runs: number; first: Mark; last: Mark }[] = [];
    for (const engine of engines) {
      const m = await createMachine(engine, model, { gpu: async () => ctx, mesh, allreduce: 'ktree' });
      try {
        const until = performance.now() + (minutes * 60e3) / engines.length;
        const marks: Mark[] = [];
        let run = 0;
        do {
          const r = await decodeToLimit(m);
          run++;
          marks.push({ run, tokensPerS: r.tokens / r.seconds, ...memory(), liveBuffers: count.live });
          if (marks.length > 2) marks.splice(1, 1); // keep the first and the latest
        } while (performance.now() < until);
        const first = marks[0];
        const last = marks[marks.length - 1];
        results.push({ engine, context: m.context, runs: run, first, last });
        console.log(`${engine.padEnd(4)} to position ${m.context}, ${run} runs`);
        console.log(`  first ${fmt(first)}`);
        console.log(`  last  ${fmt(last)}`);
      } finally {
        m.dispose();
      }
    }
    ctx.destroy();
    console.log(`live GPU buffers after closing every engine: ${count.live}`);
    // The demo's sessions, as the worker opens them: one device kept across them, every buffer counted.
    const fetchBytes = async (url: string) => {
      const b = readFileSync(new URL(url));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    };
    const host = { gpu: keptDevice(count.counted(nodeGpu)), fetchBytes, keepsDevice: true };
    const req = {
      model: 'wm-stories',
      modelBaseUrl: pathToFileURL(resolve(PROJECT_ROOT, 'public/models/')).href + '/',
      mesh: { width: 8, height: 8 },
      preset: 'wse-3',
      allreduce: 'ktree' as const,
      prompt: 'Once upon a time',
      tokens: 2,
      temperature: 0,
      topP: 1,
      seed: 42,
    };
    const before = { ...memory(), liveBuffers: count.live };
    const t0 = performance.now();
    let first = before;
    for (let i = 0; i < sessions; i++) {
      const s = await RaceSession.open(req, host);
      await s.stepTokens(2);
      s.dispose();
      // The first session compiles code the later ones reuse: growth is measured from after it.
      if (i === 0) first = { ...memory(), liveBuffers: count.live };
    }
    const after = { ...memory(), liveBuffers: count.live };
    if (sessions > 0) (await host.gpu()).destroy();
    const seconds = (performance.now() - t0) / 1e3;
    const mem = (m: typeof before) => `RSS ${m.rssMB.toFixed(1)} MB, heap ${m.heapMB.toFixed(1)} MB, live GPU buffers ${m.liveBuffers}`;
    console.log(`${sessions} sessions opened, stepped and closed in ${seconds.toFixed(0)} s (${count.created} buffers made in all)`);
    console.log(`  before the first: ${mem(before)}`);
    console.log(`  after the first:  ${mem(first)}`);
    console.log(`  after the last:   ${mem(after)}`);
    if (values.json) console.log(JSON.stringify({ engines: results, sessions: { count: sessions, seconds, before, first, after } }));
    return count.live === 0 ? 0 : 1;
  } catch (e) {
    console.error(`soak: ${oneLine(e)}`);
    return 1;
  }
}
