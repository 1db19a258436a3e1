import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WafermeshError, oneLine } from '../errors.ts';
import { gpuPreset } from '../cost/hardware.ts';
import type { MachineTrace } from '../cost/model.ts';
import { createMachine, type Machine } from '../engines/index.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpu } from '../gpu/node.ts';
import { DEFAULT_PRESET, meshFromPreset, parseMeshSize, type MeshConfig } from '../mesh/config.ts';
import { smallestFittingMesh } from '../mesh/placement.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { BOS, describeConfig } from '../model/config.ts';
import { writeCheckpoint } from '../model/checkpoint.ts';
import { ReferenceTransformer } from '../model/reference.ts';
import { argmax } from '../model/sampler.ts';
import type { Model } from '../model/weights.ts';
import { loadModel, PROJECT_ROOT } from './load.ts';
import type { Command } from './main.ts';
import { numberOption } from './options.ts';
import { lineChartSvg, type Series } from './plot.ts';

type BenchEngine = 'cpu' | 'gpu' | 'mesh' | 'c';
const BENCH_ENGINES: readonly BenchEngine[] = ['cpu', 'gpu', 'mesh', 'c'];

interface Case {
  suite: string; // "engines", "mesh size", "model size", "context"
  sweep: string; // the swept value, for plots
  engine: BenchEngine;
  model: string;
  mesh?: MeshConfig;
  context: number; // positions decoded before the timed ones
}

export interface BenchResult {
  suite: string;
  sweep: string;
  engine: BenchEngine;
  model: string;
  mesh: string | null;
  context: number;
  tokens_per_s: number; // median over repeats, wall clock
  tokens_per_s_min: number;
  tokens_per_s_max: number;
  ms_per_token: number;
  passes_per_token: number | null;
  modelled_tokens_per_s: number | null;
  fabric_words_per_token: number | null;
  offchip_bytes_per_token: number | null;
  energy_uj_per_token: number | null;
  max_abs_dlogit: number | null;
  error?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The ids fed to every engine: the reference's greedy continuation from BOS (teacher forcing). */
function referenceRun(model: Model, positions: number): { ids: number[]; logits: Float32Array[] } {
  const ref = new ReferenceTransformer(model);
  const ids = [BOS];
  const logits: Float32Array[] = [];
  for (let pos = 0; pos < positions; pos++) {
    const l = Float32Array.from(ref.forward(ids[pos], pos));
    logits.push(l);
    ids.push(argmax(l));
  }
  return { ids, logits };
}

export const benchCommand: Command = {
  summary: 'measure the engines side by side (wall clock on this driver) with modelled numbers for the preset hardware',
  usage: '[--engines cpu,gpu,mesh,c] [--suite default|engines|quick] [--model NAME] [--meshes 8x8,16x16] [--contexts 0,128] [--tokens T] [--repeats R] [--allreduce ring|tree] [--preset NAME] [--gpu-preset NAME] [--json FILE] [--md FILE] [--svg PREFIX]',
  options: {
    engines: { type: 'string', default: 'cpu,gpu,mesh,c' },
    suite: { type: 'string', default: 'default' },
    model: { type: 'string', default: 'stories260K' },
    meshes: { type: 'string' },
    contexts: { type: 'string' },
    tokens: { type: 'string', default: '16' },
    repeats: { type: 'string', default: '3' },
    allreduce: { type: 'string', default: 'tree' },
    preset: { type: 'string', default: DEFAULT_PRESET },
    'gpu-preset': { type: 'string', default: 'toy-gpu' },
    json: { type: 'string' },
    md: { type: 'string' },
    svg: { type: 'string' },
  },
  async run(v) {
    const engines = String(v.engines).split(',').map((s) => s.trim()) as BenchEngine[];
    for (const e of engines) if (!BENCH_ENGINES.includes(e)) throw new WafermeshError('bad-option', `--engines: "${e}" is not one of ${BENCH_ENGINES.join(', ')}`);
    const T = numberOption('tokens', v.tokens, 16, true);
    const R = numberOption('repeats', v.repeats, 3, true);
    if (T < 1 || R < 1) throw new WafermeshError('bad-option', '--tokens and --repeats must be at least 1');
    const allreduce = String(v.allreduce) as Allreduce;
    const preset = String(v.preset);
    const gpuHw = gpuPreset(String(v['gpu-preset']));
    const mainModel = String(v.model);
    const meshOf = (s: string) => {
      const { width, height } = parseMeshSize(s);
      return meshFromPreset(preset, width, height);
    };
    const models = new Map<string, Model>();
    const getModel = async (name: string) => {
      let m = models.get(name);
      if (!m) {
        m = (await loadModel(name)).model;
        models.set(name, m);
      }
      return m;
    };
    // The suite.
    const cases: Case[] = [];
    const suite = String(v.suite);
    const base = await getModel(mainModel);
    const defaultMesh = () => smallestFittingMesh(base.config, meshFromPreset(preset, 8, 8)) ?? meshOf('8x8');
    const main = defaultMesh().width < 8 ? meshOf('8x8') : defaultMesh();
    for (const e of engines) cases.push({ suite: 'engines', sweep: e, engine: e, model: mainModel, mesh: e === 'mesh' ? main : undefined, context: 0 });
    if (suite === 'default') {
      const meshes = v.meshes ? String(v.meshes).split(',') : ['8x8', '16x16', '32x32'];
      if (engines.includes('mesh')) {
        for (const s of meshes) cases.push({ suite: 'mesh size', sweep: s, engine: 'mesh', model: mainModel, mesh: meshOf(s), context: 0 });
      }
      const contexts = v.contexts ? String(v.contexts).split(',').map(Number) : [0, 128, 384].filter((c) => c + T <= base.config.seqLen);
      for (const c of contexts) {
        for (const e of engines.filter((x) => x !== 'c')) cases.push({ suite: 'context', sweep: String(c), engine: e, model: mainModel, mesh: e === 'mesh' ? main : undefined, context: c });
      }
      for (const dim of [64, 128, 256]) {
        const name = `random:dim=${dim},hidden=${Math.round((dim * 8) / 3 / 4) * 4},layers=4,heads=${dim / 16},kv=${dim / 32},vocab=512,seq=256,shared=1,seed=1`;
        const m = await getModel(name);
        const fit = smallestFittingMesh(m.config, meshFromPreset(preset, 8, 8));
        for (const e of engines.filter((x) => x === 'gpu' || x === 'mesh' || x === 'c')) {
          if (e === 'mesh' && !fit) continue;
          cases.push({ suite: 'model size', sweep: `dim ${dim}`, engine: e, model: name, mesh: e === 'mesh' ? fit : undefined, context: 0 });
        }
      }
    } else if (suite !== 'engines') {
      throw new WafermeshError('bad-option', `--suite ${suite} is not one of default, engines`);
    }

    let gpu: GpuContext | undefined;
    const needGpu = cases.some((c) => c.engine === 'gpu' || c.engine === 'mesh');
    if (needGpu) gpu = await nodeGpu();
    let cdecode: string | undefined;
    const tmp = mkdtempSync(join(tmpdir(), 'wm-bench-'));
    const commit = (() => {
      try {
        return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      } catch {
        return 'unknown';
      }
    })();
    const header = [
      `wafermesh bench — ${new Date().toISOString()}, commit ${commit}, node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? '?'}`,
      `adapter: ${gpu ? `${gpu.adapterName} — ${gpu.driver.detail}` : 'none needed'}`,
      `model: ${mainModel} (${describeConfig(base.config)}); mesh preset ${preset}, allreduce ${allreduce}; ${T} tokens x ${R} repeats after a warm-up`,
      `measured: wall clock on this machine's driver (tokens/s = median of the repeats, [min–max]); the clock stops when the token's logits are back on the CPU, after the GPU's work is done`,
      `modelled: mesh at the ${preset} preset (cycles of the wafer program at its clock); gpu at ${gpuHw.name} (${gpuHw.description}); energy from the cost model's per-operation costs`,
    ];
    for (const h of header) console.log(h);
    const cols = `${'suite'.padEnd(11)} ${'engine'.padEnd(6)} ${'model'.padEnd(14)} ${'mesh'.padEnd(7)} ${'ctx'.padStart(4)} ${'tok/s'.padStart(9)} ${'[min–max]'.padStart(17)} ${'passes'.padStart(6)} ${'model tok/s'.padStart(12)} ${'fabric w/tok'.padStart(12)} ${'offchip B/tok'.padStart(13)} ${'µJ/tok'.padStart(8)} ${'max|Δlogit|'.padStart(11)}`;
    console.log(cols);
    const results: BenchResult[] = [];
    const progress = (i: number, what: string) => {
      if (!process.stderr.isTTY) return;
      const n = 30;
      const done = Math.round((i / cases.length) * n);
      process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(n - done)}] ${i}/${cases.length} ${what}`.padEnd(90).slice(0, 90));
      if (i === cases.length) process.stderr.write('\r'.padEnd(91) + '\r');
    };
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      progress(i, `${c.engine} ${c.model.slice(0, 20)} ${c.mesh ? `${c.mesh.width}x${c.mesh.height}` : ''}`);
      const model = await getModel(c.model);
      const shortName = c.model.startsWith('random:') ? `rand-d${model.config.dim}` : c.model;
      const r: BenchResult = {
        suite: c.suite,
        sweep: c.sweep,
        engine: c.engine,
        model: shortName,
        mesh: c.mesh ? `${c.mesh.width}x${c.mesh.height}` : null,
        context: c.context,
        tokens_per_s: 0,
        tokens_per_s_min: 0,
        tokens_per_s_max: 0,
        ms_per_token: 0,
        passes_per_token: null,
        modelled_tokens_per_s: null,
        fabric_words_per_token: null,
        offchip_bytes_per_token: null,
        energy_uj_per_token: null,
        max_abs_dlogit: null,
      };
      try {
        const positions = c.context + T;
        if (positions > model.config.seqLen) throw new WafermeshError('bad-option', `context ${c.context} + ${T} tokens exceeds seq_len ${model.config.seqLen}; use smaller --contexts or --tokens`);
        const rates: number[] = [];
        if (c.engine === 'c') {
          if (c.context !== 0) throw new WafermeshError('bad-option', 'the C decode only times from BOS; leave engine c out of context sweeps');
          cdecode ??= compileC(tmp);
          const path = join(tmp, `${shortName}.bin`);
          writeFileSync(path, writeCheckpoint(model));
          const { ids } = referenceRun(model, T);
          for (let k = 0; k <= R; k++) {
            const run = runC(cdecode, path, T);
            // It stops early if the model emits BOS; the ids it printed must be the reference's.
            if (run.ids.join() !== ids.slice(1, 1 + run.ids.length).join()) {
              throw new WafermeshError('mismatch', "the C decode's ids differ from the reference's");
            }
            if (k > 0) rates.push(run.rate); // k = 0 is the warm-up
          }
        } else {
          const { ids, logits } = referenceRun(model, positions);
          const engine: Machine = await createMachine(c.engine, model, { gpu: async () => gpu!, mesh: c.mesh, allreduce, gpuPreset: gpuHw.name });
          try {
            // Warm-up and verification: every position once, logits against the reference, and the
            // machine's trace of each position that is timed below.
            let maxDiff = 0;
            const traces: MachineTrace[] = [];
            engine.reset();
            for (let pos = 0; pos < positions; pos++) {
              const l = await engine.forward(ids[pos], pos);
              for (let j = 0; j < l.length; j++) maxDiff = Math.max(maxDiff, Math.abs(l[j] - logits[pos][j]));
              const t = pos >= c.context ? engine.lastTrace() : undefined;
              if (t) traces.push(t);
            }
            r.max_abs_dlogit = c.engine === 'cpu' ? 0 : maxDiff;
            for (let k = 0; k < R; k++) {
              engine.reset();
              for (let pos = 0; pos < c.context; pos++) await engine.forward(ids[pos], pos);
              const t0 = performance.now();
              for (let pos = c.context; pos < positions; pos++) await engine.forward(ids[pos], pos);
              rates.push((1000 * T) / (performance.now() - t0));
            }
            // Counters and modelled numbers, averaged over the timed positions.
            if (engine.plan) {
              let secs = 0;
              let words = 0;
              let bytes = 0;
              let joules = 0;
              for (const t of traces) {
                secs += t.cost.seconds;
                joules += t.cost.joules;
                words += t.fabric?.linkWords ?? 0;
                bytes += t.offchip.weights + t.offchip.kv;
              }
              r.passes_per_token = engine.passes.length;
              r.modelled_tokens_per_s = T / secs;
              if (engine.plan === 'mesh') r.fabric_words_per_token = words / T;
              else r.offchip_bytes_per_token = bytes / T;
              r.energy_uj_per_token = (joules / T) * 1e6;
            }
          } finally {
            engine.dispose();
          }
        }
        r.tokens_per_s = median(rates);
        r.tokens_per_s_min = Math.min(...rates);
        r.tokens_per_s_max = Math.max(...rates);
        r.ms_per_token = 1000 / r.tokens_per_s;
      } catch (e) {
        r.error = oneLine(e);
      }
      results.push(r);
      console.log(formatLine(r));
    }
    progress(cases.length, '');
    gpu?.destroy();
    if (v.json) writeFileSync(String(v.json), results.map((r) => JSON.stringify({ ...r, adapter: gpu?.adapterName ?? null, commit })).join('\n') + '\n');
    if (v.md) writeFileSync(String(v.md), markdown(header, results));
    if (v.svg) {
      for (const s of ['mesh size', 'context', 'model size']) {
        const rows = results.filter((r) => r.suite === s && !r.error);
        if (rows.length === 0) continue;
        const series: Series[] = [...new Set(rows.map((r) => r.engine))].map((e) => ({
          name: `${e} (measured)`,
          points: rows.filter((r) => r.engine === e).map((r) => ({ x: r.sweep, y: r.tokens_per_s })),
        }));
        const file = `${String(v.svg)}-${s.replace(/\s+/g, '-')}.svg`;
        writeFileSync(file, lineChartSvg(`${mainModel}: tokens/s by ${s} (wall clock, this driver)`, s, 'tokens/s', series));
        console.log(`wrote ${file}`);
      }
    }
    return results.some((r) => r.error) ? 1 : 0;
  },
};

function compileC(dir: string): string {
  const out = join(dir, 'decode');
  try {
    execFileSync('cc', ['-O2', '-o', out, resolve(PROJECT_ROOT, 'tools/cdecode/decode.c'), '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new WafermeshError('no-compiler', `could not compile tools/cdecode/decode.c with cc (${oneLine(e)}); install gcc or leave out engine c`);
  }
  return out;
}

/** Runs the C decode once: its ids (stdout) and its own timing (stderr: "N tokens, X tokens/s"). */
function runC(bin: string, path: string, T: number): { ids: number[]; rate: number } {
  const r = spawnSync(bin, [path, String(T)], { encoding: 'utf8' });
  const m = /([\d.]+) tokens\/s/.exec(String(r.stderr));
  if (r.status !== 0 || !m) throw new WafermeshError('bad-output', `the C decode failed: ${String(r.stderr).trim() || `exit ${r.status}`}`);
  return { ids: String(r.stdout).trim().split(/\s+/).filter(Boolean).map(Number), rate: Number(m[1]) };
}

const fmt = (x: number | null, d = 1) => (x === null ? '-' : x >= 1e6 ? x.toExponential(2) : x.toFixed(d));

function formatLine(r: BenchResult): string {
  if (r.error) return `${r.suite.padEnd(11)} ${r.engine.padEnd(6)} ${r.model.padEnd(14)} ${(r.mesh ?? '-').padEnd(7)} ${String(r.context).padStart(4)} error: ${r.error}`;
  return (
    `${r.suite.padEnd(11)} ${r.engine.padEnd(6)} ${r.model.padEnd(14)} ${(r.mesh ?? '-').padEnd(7)} ${String(r.context).padStart(4)} ` +
    `${fmt(r.tokens_per_s).padStart(9)} ${`[${fmt(r.tokens_per_s_min)}–${fmt(r.tokens_per_s_max)}]`.padStart(17)} ${String(r.passes_per_token ?? '-').padStart(6)} ` +
    `${fmt(r.modelled_tokens_per_s, 0).padStart(12)} ${fmt(r.fabric_words_per_token, 0).padStart(12)} ${fmt(r.offchip_bytes_per_token, 0).padStart(13)} ` +
    `${fmt(r.energy_uj_per_token, 2).padStart(8)} ${(r.max_abs_dlogit === null ? '-' : r.max_abs_dlogit.toExponential(1)).padStart(11)}`
  );
}

function markdown(header: string[], results: BenchResult[]): string {
  const lines = header.map((h) => `${h}  `);
  lines.push('', '| suite | engine | model | mesh | ctx | tok/s (median) | [min–max] | passes/tok | modelled tok/s | fabric words/tok | off-chip B/tok | µJ/tok (modelled) | max abs Δlogit |', '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.suite} | ${r.engine} | ${r.model} | ${r.mesh ?? '-'} | ${r.context} | error: ${r.error} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.suite} | ${r.engine} | ${r.model} | ${r.mesh ?? '-'} | ${r.context} | ${fmt(r.tokens_per_s)} | ${fmt(r.tokens_per_s_min)}–${fmt(r.tokens_per_s_max)} | ${r.passes_per_token ?? '-'} | ${fmt(r.modelled_tokens_per_s, 0)} | ${fmt(r.fabric_words_per_token, 0)} | ${fmt(r.offchip_bytes_per_token, 0)} | ${fmt(r.energy_uj_per_token, 2)} | ${r.max_abs_dlogit === null ? '-' : r.max_abs_dlogit.toExponential(1)} |`,
    );
  }
  return lines.join('\n') + '\n';
}
