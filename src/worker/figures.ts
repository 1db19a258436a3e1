import { CATALOG, hardwarePreset, modelEntry } from '../catalog.ts';
import { kvTransfer, predictPrefill } from '../cost/prefill.ts';
import { WafermeshError, oneLine } from '../errors.ts';
import { gpuPrefillCost, gpuTokenCost, BYTES_PER_VALUE, type Precision } from '../cost/model.ts';
import { gpuPreset, waferPreset } from '../cost/hardware.ts';
import { predict } from '../cost/predict.ts';
import { baselineProgram } from '../baseline/program.ts';
import { meshFromPreset } from '../mesh/config.ts';
import { place } from '../mesh/placement.ts';
import { traceFabricToken } from '../mesh/fabric-trace.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { compileFabricDecode } from '../mesh/programs/decode-fabric.ts';
import { BOS, kvDim, parameterCount, type ModelConfig } from '../model/config.ts';
import { figureKey } from './figure-key.ts';
import type { FigureQuery, FigureResult } from './types.ts';

export { figureKey };

/**
 * The numbers a lesson quotes, computed when it is shown: by the same functions the CLI prints
 * them with (`fit` → fitSummary, `trace` → traceFabricToken, `predict` → predict), for the model
 * loaded in the demo (`model: 'current'`) or a catalog model by id. Nothing here is typed into a
 * lesson's text; every value says whether it is modelled.
 */
export function computeFigures(current: ModelConfig | null, queries: readonly FigureQuery[]): FigureResult[] {
  return queries.map((q) => {
    try {
      return { key: figureKey(q), values: one(current, q), error: null };
    } catch (e) {
      return { key: figureKey(q), values: {}, error: oneLine(e) };
    }
  });
}


function configOf(current: ModelConfig | null, model: string | undefined): ModelConfig {
  if (!model || model === 'current') {
    if (!current) throw new WafermeshError('no-session', 'no model is loaded yet');
    return current;
  }
  const e = modelEntry(model);
  if (!e?.config) throw new WafermeshError('unknown-model', `model "${model}" has no shape in the catalog`);
  return e.config;
}

function one(current: ModelConfig | null, q: FigureQuery): Record<string, number | string | boolean | null> {
  switch (q.kind) {
    case 'model': {
      const c = configOf(current, q.model);
      const vb = BYTES_PER_VALUE[q.precision ?? 'fp32'];
      return { parameters: parameterCount(c), weightBytes: parameterCount(c) * vb, layers: c.nLayers, dim: c.dim, seqLen: c.seqLen, kvBytesPerPosition: 2 * c.nLayers * kvDim(c) * vb };
    }
    case 'fit': {
      // The placement fitSummary (and so `fit`) reads, without its search for a mesh that fits
      // (seconds on a mesh far too small): the same cores, bytes and context.
      const c = configOf(current, q.model);
      const mesh = meshFromPreset(q.preset, q.mesh.width, q.mesh.height);
      const p = place(c, mesh);
      const f = p.fullest;
      return {
        fits: p.fits,
        cores: mesh.width * mesh.height,
        sramBytes: mesh.sramBytes,
        allSramBytes: mesh.width * mesh.height * mesh.sramBytes,
        context: p.fits ? p.context : 0,
        maxContext: Number.isFinite(p.maxContext) ? p.maxContext : null,
        seqLen: c.seqLen,
        fullestBytes: f.totalWords * 4,
        fullestWeightBytes: f.weightWords * 4,
        fullestKvBytes: f.kvWordsPerSlot * f.kvSlots * 4,
        fullestRow: f.row,
        fullestCol: f.col,
        totalWeightBytes: p.cores.reduce((n, x) => n + x.weightWords * 4, 0),
      };
    }
    case 'trace': {
      const c = configOf(current, q.model);
      const mesh = meshFromPreset(q.preset, q.mesh.width, q.mesh.height);
      const program = compileProgram(c, mesh, q.allreduce as Allreduce);
      const pos = Math.min(q.pos ?? 0, program.placement.context - 1);
      const t = traceFabricToken(compileFabricDecode(program), BOS, pos);
      const fabric = t.phases.filter((p) => p.kind === 'transfer');
      return {
        cycles: t.cycles,
        computeCycles: t.computeCycles,
        transferCycles: t.transferCycles,
        hopCycles: t.breakdown.hops,
        serialisationCycles: t.breakdown.serialisation,
        rampCycles: t.breakdown.ramps,
        fabricWords: t.linkWords,
        fabricSteps: fabric.reduce((a, p) => a + p.steps, 0),
        fabricPhases: fabric.length,
        passes: t.passes,
        maxHops: Math.max(0, ...fabric.map((p) => p.maxHops)),
        seconds: t.seconds,
        tokensPerS: 1 / t.seconds,
        clockHz: mesh.clockHz,
        cores: mesh.width * mesh.height,
        pos,
      };
    }
    case 'gpu': {
      const c = configOf(current, q.model);
      const hw = gpuPreset(q.hardware ?? CATALOG.defaults.gpu);
      const precision = q.precision ?? 'fp32';
      const pos = q.pos ?? 0;
      const cost = gpuTokenCost(c, pos, hw, precision);
      const hbm = (cost.time['HBM: weights'] ?? 0) + (cost.time['HBM: KV cache'] ?? 0);
      // Each kernel takes the longer of its memory and its arithmetic; the arithmetic alone, for comparison:
      const flops = baselineProgram(c, BYTES_PER_VALUE[precision]).reduce((a, k) => a + k.flops(pos), 0);
      return {
        bytesPerToken: cost.offchipBytes,
        seconds: cost.seconds,
        tokensPerS: cost.tokensPerS,
        hbmSeconds: hbm,
        flops,
        computeSeconds: flops / hw.peakFlops[precision],
        launchSeconds: cost.time['kernel launches'] ?? 0,
        bound: cost.bound,
        hbmBytesPerS: hw.hbmBytesPerS,
        l2Bytes: hw.l2Bytes,
        peakFlops: hw.peakFlops[q.precision ?? 'fp32'],
      };
    }
    case 'prefill': {
      const c = configOf(current, q.model);
      const hw = gpuPreset(q.hardware ?? CATALOG.defaults.gpu);
      const T = Math.max(1, Math.min(q.promptTokens, c.seqLen));
      const batch = gpuPrefillCost(c, T, hw, { precision: q.precision ?? 'fp32' });
      let oneByOne = 0;
      for (let p = 0; p < T; p++) oneByOne += gpuTokenCost(c, p, hw, q.precision ?? 'fp32').seconds;
      return { promptTokens: T, batchSeconds: batch.seconds, batchTokensPerS: batch.tokensPerS, batchBound: batch.bound, oneByOneSeconds: oneByOne, decodeTokensPerS: T / oneByOne };
    }
    case 'predict': {
      const c = configOf(current, q.model);
      const p = cachedPredict(q.model, c, q.hardware, { chips: q.chips, precision: q.precision, context: q.context });
      return { tokensPerS: p.tokens_per_s, msPerToken: p.ms_per_token, bound: p.bound, chips: p.chips, precision: p.precision, context: p.context, energyJ: p.energy_per_token_j };
    }
    case 'real-prefill': {
      // `predict --prompt N`: the prompt as one batch (GPUs: GEMMs at the peak or bound by HBM; wafers: MeshGEMM or SUMMA, weights in place).
      const c = configOf(current, q.model);
      const precision = q.precision ?? 'fp16';
      let p;
      try {
        p = predictPrefill(q.model, c, q.prompt, q.hardware, { precision });
      } catch (e) {
        // As `predict --prompt` does: where the fastest placement for decoding alone leaves no SRAM
        // for the prompt's tiles, the wafer prefills (and decodes) on whole-wafer tiling.
        if (!(e instanceof WafermeshError && e.code === 'does-not-fit')) throw e;
        p = predictPrefill(q.model, c, q.prompt, q.hardware, { precision, placement: { kind: 'whole' } });
      }
      return { ttftSeconds: p.ttft_ms / 1e3, prefillTokensPerS: p.prefill_tokens_per_s, bound: p.bound, prompt: p.prompt, chips: p.chips };
    }
    case 'kv-transfer': {
      // `predict --prefill A --decode B --prompt N`: the prompt's KV cache from the prefill machine to the decoder.
      const c = configOf(current, q.model);
      const kind = (id: string) => hardwarePreset(id).kind;
      const wafer = [q.prefill, q.decode].find((id) => kind(id) === 'wafer');
      const fab = wafer ? waferPreset(wafer) : undefined;
      const kv = kvTransfer(c, q.prompt, q.precision ?? 'fp16', { prefillWafer: kind(q.prefill) === 'wafer', decodeWafer: kind(q.decode) === 'wafer' }, CATALOG,
        fab ? { width: fab.fullWidth, height: fab.fullHeight, clockHz: fab.core.clockHz, bw: fab.core.wordsPerLinkCycle, hop: fab.core.cyclesPerHop } : undefined);
      return { bytes: kv.bytes, seconds: kv.ms / 1e3, bound: kv.bound };
    }
    case 'wafer': {
      const w = waferPreset(q.preset);
      return { width: w.fullWidth, height: w.fullHeight, cores: w.cores, sramBytes: w.core.sramBytes, allSramBytes: w.cores * w.core.sramBytes, clockHz: w.core.clockHz };
    }
    case 'scale': {
      // How far the toy GPU is scaled down from the real one (bandwidth ratio; FLOPs, memory and L2 are divided alike).
      const real = gpuPreset(q.real);
      const toy = gpuPreset(q.toy);
      return { factor: Math.round(real.hbmBytesPerS / toy.hbmBytesPerS), realBytesPerS: real.hbmBytesPerS, toyBytesPerS: toy.hbmBytesPerS, realName: real.name, toyName: toy.name };
    }
  }
}

const predictions = new Map<string, ReturnType<typeof predict>>();

/**
 * `predict`, remembered: costing a model on a whole wafer takes seconds, and lessons and the
 * real-scale race ask for the same few. Keyed by the model's shape, so a catalog model and a
 * loaded one never share an entry by name alone.
 */
export function cachedPredict(name: string, model: ModelConfig, hardware: string, options: Parameters<typeof predict>[3] = {}): ReturnType<typeof predict> {
  const key = JSON.stringify([name, model, hardware, options.chips ?? 1, options.precision ?? 'fp16', options.context ?? null, options.allreduce ?? null]);
  let p = predictions.get(key);
  if (!p) {
    p = predict(name, model, hardware, options);
    predictions.set(key, p);
  }
  return p;
}

/** Bytes a precision stores per value (the cost model's table), for the lessons' wording. */
export const valueBytes = (p: Precision) => BYTES_PER_VALUE[p];
