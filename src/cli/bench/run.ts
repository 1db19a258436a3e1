import { WafermeshError, oneLine } from '../../errors.ts';
import type { MachineTrace } from '../../cost/model.ts';
import { createMachine, type Machine } from '../../engines/index.ts';
import type { GpuContext } from '../../gpu/device.ts';
import type { Allreduce } from '../../mesh/collectives.ts';
import { BOS } from '../../model/config.ts';
import { ReferenceTransformer } from '../../model/reference.ts';
import { argmax } from '../../model/sampler.ts';
import type { Model } from '../../model/weights.ts';
import type { CDecoder } from '../cdecode.ts';
import type { BenchEngine, Case } from './suite.ts';

/** One case's numbers: one fixed-width line, one JSON Lines record, one markdown row. */
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

/** What every case of one bench run shares. */
export interface RunSettings {
  tokens: number; // timed positions per repeat
  repeats: number; // timed repeats after the warm-up
  allreduce: Allreduce;
  gpuPreset: string; // the GPU baseline's modelled hardware
  gpu?: GpuContext; // present when a case needs WebGPU
  /** The compiled C decoder (compiled on first use; a failure to compile fails that case). */
  cdecode: () => CDecoder;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The ids fed to every engine: the reference's greedy continuation from BOS (teacher forcing). */
export function referenceRun(model: Model, positions: number): { ids: number[]; logits: Float32Array[] } {
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

/** Runs one case; a failure becomes the result's `error`, so the other cases still run. */
export async function runCase(c: Case, model: Model, s: RunSettings): Promise<BenchResult> {
  const r: BenchResult = {
    suite: c.suite,
    sweep: c.sweep,
    engine: c.engine,
    model: c.model.startsWith('random:') ? `rand-d${model.config.dim}` : c.model,
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
    const positions = c.context + s.tokens;
    if (positions > model.config.seqLen) throw new WafermeshError('bad-option', `context ${c.context} + ${s.tokens} tokens exceeds seq_len ${model.config.seqLen}; use smaller --contexts or --tokens`);
    const rates = c.engine === 'c' ? runC(c, model, s) : await runMachine(c, model, s, r);
    r.tokens_per_s = median(rates);
    r.tokens_per_s_min = Math.min(...rates);
    r.tokens_per_s_max = Math.max(...rates);
    r.ms_per_token = 1000 / r.tokens_per_s;
  } catch (e) {
    r.error = oneLine(e);
  }
  return r;
}

/** The C decode: a warm-up and `repeats` timed runs, each checked against the reference's ids; its own tokens/s. */
function runC(c: Case, model: Model, s: RunSettings): number[] {
  if (c.context !== 0) throw new WafermeshError('bad-option', 'the C decode only times from BOS; leave engine c out of context sweeps');
  const decoder = s.cdecode();
  const path = decoder.writeCheckpoint(model);
  const { ids } = referenceRun(model, s.tokens);
  const rates: number[] = [];
  for (let k = 0; k <= s.repeats; k++) {
    const run = decoder.run(path, s.tokens);
    // It stops early if the model emits BOS; the ids it printed must be the reference's.
    if (run.ids.join() !== ids.slice(1, 1 + run.ids.length).join()) {
      throw new WafermeshError('mismatch', "the C decode's ids differ from the reference's");
    }
    if (k > 0) rates.push(run.rate); // k = 0 is the warm-up
  }
  return rates;
}

/**
 * A machine from createMachine: a warm-up that checks every position's logits against the
 * reference and keeps the traces of the timed positions, then `repeats` timed runs (tokens/s of
 * each). Fills in `r`'s verification, counters and modelled numbers.
 */
async function runMachine(c: Case, model: Model, s: RunSettings, r: BenchResult): Promise<number[]> {
  const positions = c.context + s.tokens;
  const { ids, logits } = referenceRun(model, positions);
  const engine: Machine = await createMachine(c.engine, model, { gpu: async () => s.gpu!, mesh: c.mesh, allreduce: s.allreduce, gpuPreset: s.gpuPreset });
  try {
    // Warm-up and verification: every position once, logits against the reference, and the
    // machine's trace of each position that is timed below.
    let maxDiff = 0;
    const traces: MachineTrace[] = [];
    engine.reset();
    // The mesh engine reads back what moved, untimed here; not while timing below.
    if (engine.measuring !== undefined) engine.measuring = true;
    for (let pos = 0; pos < positions; pos++) {
      const l = await engine.forward(ids[pos], pos);
      for (let j = 0; j < l.length; j++) maxDiff = Math.max(maxDiff, Math.abs(l[j] - logits[pos][j]));
      const t = pos >= c.context ? engine.lastTrace() : undefined;
      if (t) traces.push(t);
    }
    r.max_abs_dlogit = c.engine === 'cpu' ? 0 : maxDiff;
    if (engine.measuring !== undefined) engine.measuring = false;
    // Timed as greedy decoding runs: where the machine finds the id itself (the wafer), only
    // the id comes back; elsewhere the logits do.
    const step = engine.greedy ? (pos: number) => engine.greedy!(ids[pos], pos, true) : (pos: number) => engine.forward(ids[pos], pos);
    const rates: number[] = [];
    for (let k = 0; k < s.repeats; k++) {
      engine.reset();
      for (let pos = 0; pos < c.context; pos++) await step(pos);
      const t0 = performance.now();
      for (let pos = c.context; pos < positions; pos++) await step(pos);
      rates.push((1000 * s.tokens) / (performance.now() - t0));
    }
    if (engine.plan) modelled(engine, traces, s.tokens, r);
    return rates;
  } finally {
    engine.dispose();
  }
}

/** Counters and modelled numbers, averaged over the timed positions' traces. */
function modelled(engine: Machine, traces: MachineTrace[], tokens: number, r: BenchResult): void {
  let secs = 0;
  let words = 0;
  let bytes = 0;
  let joules = 0;
  for (const t of traces) {
    secs += t.cost.seconds;
    joules += t.cost.joules;
    // On the mesh engine the words it moved, counted on the fabric.
    if (engine.plan === 'mesh') {
      if (!t.fabricMeasured) throw new WafermeshError('internal', `the mesh engine did not report what it moved at position ${t.pos}`);
      words += t.fabricMeasured.words;
    }
    bytes += t.offchip.weights + t.offchip.kv;
  }
  r.passes_per_token = engine.passes.length;
  r.modelled_tokens_per_s = tokens / secs;
  if (engine.plan === 'mesh') r.fabric_words_per_token = words / tokens;
  else r.offchip_bytes_per_token = bytes / tokens;
  r.energy_uj_per_token = (joules / tokens) * 1e6;
}
