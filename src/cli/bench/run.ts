import { WafermeshError, oneLine } from '../../errors.ts';
import type { MachineTrace } from '../../cost/model.ts';
import { createMachine, type Machine } from '../../engines/index.ts';
import type { GpuContext } from '../../gpu/device.ts';
import type { Allreduce } from '../../mesh/collectives.ts';
import { BOS } from '../../model/config.ts';
import { ReferenceTransformer } from '../../model/reference.ts';
import { argmax } from '../../model/sampler.ts';
import { gpuPrefillCost } from '../../cost/model.ts';
import { fabricPrefill } from '../../cost/prefill.ts';
import { gpuPreset } from '../../cost/hardware.ts';
import { checkPromptFits } from '../../engines/generate.ts';
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
  // The prompt sweep only (absent on the other rows): the prompt's positions (BOS included), fed
  // before the first id; tokens_per_s above is then the decode after the first id.
  prompt_tokens?: number;
  prefill?: 'batched' | 'token by token' | 'wafer fabric';
  ttft_ms?: number; // median over repeats, wall clock: the prompt through the model and the first id found
  ttft_ms_min?: number;
  ttft_ms_max?: number;
  prefill_tokens_per_s?: number; // prompt_tokens / ttft_ms (median)
  modelled_ttft_ms?: number | null; // gpu: gpuPrefillCost of the prompt; mesh: its positions' modelled costs summed; cpu: none
  modelled_prefill_tokens_per_s?: number | null;
  error?: string;
}

/**
 * The largest |Δlogit| against the reference a prompt row accepts before it is timed (the GPU
 * baseline and the mesh sit near 1e-4 on the bench's models; the CLI test holds them to this).
 */
export const LOGIT_TOLERANCE = 1e-3;

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
    const rates = c.engine === 'c' ? runC(c, model, s) : c.prompt !== undefined ? await runPrompt(c, c.prompt, model, s, r) : await runMachine(c, model, s, r);
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
  if (c.waferPrefill === 'gemm') r.prefill = 'wafer fabric';
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

/**
 * The prompt sweep: `P` prompt positions (the reference's greedy ids from BOS), then `tokens`
 * decoded after the first id. A warm-up checks every position's logits against the reference (the
 * prefill's last ones included) and keeps the traces; then `repeats` timed runs, each: the prompt
 * through the model — one batch where the machine has `prefill`, token by token otherwise — and
 * the first id (the time to first token), then the decode, after one such run untimed. Returns the decode's tokens/s of each.
 */
async function runPrompt(c: Case, P: number, model: Model, s: RunSettings, r: BenchResult): Promise<number[]> {
  const positions = P + s.tokens;
  const { ids, logits } = referenceRun(model, positions);
  const engine: Machine = await createMachine(c.engine, model, { gpu: async () => s.gpu!, mesh: c.mesh, allreduce: s.allreduce, gpuPreset: s.gpuPreset, ...(c.waferPrefill === 'gemm' ? { meshPrefill: 'fabric-gemm' as const } : {}) });
  try {
    checkPromptFits(positions, engine);
    const batched = !!engine.prefill;
    r.prompt_tokens = P;
    r.prefill = c.waferPrefill === 'gemm' ? 'wafer fabric' : batched ? 'batched' : 'token by token';
    const prompt = ids.slice(0, P);
    let maxDiff = 0;
    const check = (l: Float32Array, pos: number) => {
      for (let j = 0; j < l.length; j++) maxDiff = Math.max(maxDiff, Math.abs(l[j] - logits[pos][j]));
    };
    // Warm-up and verification (pipelines built on first use are not timed below).
    const promptTraces: MachineTrace[] = [];
    const decodeTraces: MachineTrace[] = [];
    engine.reset();
    if (engine.measuring !== undefined) engine.measuring = true;
    if (batched) {
      check(await engine.prefill!(prompt, 0), P - 1);
      // The wafer prefill: every fabric phase, the KV re-layout's and the hand-off's measured where the words moved, equal to its closed form.
      const wp = engine.waferPrefill;
      const off = wp && [...wp.phases, ...wp.relayout, ...wp.handoff.phases].find((p) => p.firstDifference !== null);
      if (off) throw new WafermeshError('mismatch', `the wafer prefill's phase "${off.name}" moved other than its closed form: ${off.firstDifference}`);
    } else {
      for (let pos = 0; pos < P; pos++) {
        check(await engine.forward(ids[pos], pos), pos);
        const t = engine.lastTrace();
        if (t) promptTraces.push(t);
      }
    }
    for (let pos = P; pos < positions; pos++) {
      check(await engine.forward(ids[pos], pos), pos);
      const t = engine.lastTrace();
      if (t) decodeTraces.push(t);
    }
    if (engine.measuring !== undefined) engine.measuring = false;
    r.max_abs_dlogit = maxDiff;
    if (maxDiff > LOGIT_TOLERANCE) throw new WafermeshError('mismatch', `${c.engine} with a ${P}-token prompt: max |Δlogit| ${maxDiff.toExponential(2)} against the reference exceeds ${LOGIT_TOLERANCE}`);

    // Timed: where the machine finds the id itself (the wafer), only the id comes back.
    const step = engine.greedy ? (pos: number) => engine.greedy!(ids[pos], pos, true) : async (pos: number) => argmax(await engine.forward(ids[pos], pos));
    const ttfts: number[] = [];
    const rates: number[] = [];
    // k = 0 runs the timed path once untimed (the wafer's greedy pipelines, not the forward ones
    // the check above used, are built on first use).
    for (let k = 0; k <= s.repeats; k++) {
      engine.reset();
      const t0 = performance.now();
      let first: number;
      if (batched) first = argmax(await engine.prefill!(prompt, 0));
      else {
        first = -1;
        for (let pos = 0; pos < P; pos++) first = await step(pos);
      }
      const t1 = performance.now();
      if (first !== ids[P]) throw new WafermeshError('mismatch', `${c.engine} with a ${P}-token prompt: first id ${first}, the reference's ${ids[P]}`);
      for (let pos = P; pos < positions; pos++) await step(pos);
      const t2 = performance.now();
      if (k === 0) continue;
      ttfts.push(t1 - t0);
      rates.push((1000 * s.tokens) / (t2 - t1));
    }
    r.ttft_ms = median(ttfts);
    r.ttft_ms_min = Math.min(...ttfts);
    r.ttft_ms_max = Math.max(...ttfts);
    r.prefill_tokens_per_s = (1000 * P) / r.ttft_ms;
    // Modelled on the preset hardware: the GPU baseline's batched prefill, or the wafer's prompt
    // positions one by one (the last gives the first id); none for the plain CPU reference.
    let seconds: number | null = null;
    if (engine.plan === 'gpu' && batched) seconds = gpuPrefillCost(model.config, P, gpuPreset(s.gpuPreset)).seconds;
    else if (batched && engine.waferPrefill) {
      // The wafer prefill on the fabric: the cost model's fabricPrefill, and the KV hand-off's fabric phases.
      const m = engine.wafer!.mesh;
      const cost = fabricPrefill(m.width, m.height, model.config, P, { hop: m.cyclesPerHop, ramp: m.cyclesPerRamp, bw: m.wordsPerLinkCycle }, m.flopsPerCoreCycle);
      seconds = (cost.totalCycles + engine.waferPrefill.relayoutCycles + engine.waferPrefill.handoff.fabricCycles) / m.clockHz;
    }
    else if (engine.plan === 'mesh' && !batched && promptTraces.length === P) seconds = promptTraces.reduce((a, t) => a + t.cost.seconds, 0);
    r.modelled_ttft_ms = seconds === null ? null : 1000 * seconds;
    r.modelled_prefill_tokens_per_s = seconds === null ? null : P / seconds;
    if (engine.plan) modelled(engine, decodeTraces, s.tokens, r);
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
