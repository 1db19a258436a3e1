import type { Lesson } from './lesson.ts';

/** Prompt tokens the chapter's prefill figures are worked out for: the toy model's, and a real model's. */
const PROMPT_TOKENS = 64;
const REAL_PROMPT = 1024;

/** Chapter 6: prefill against decode, and disaggregation. */
export const prefillDecode: Lesson = {
  id: 'prefill-decode',
  title: 'Prefill against decode',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'emulated' },
  figures: (s) => ({
    pf: { kind: 'prefill', promptTokens: PROMPT_TOKENS },
    trace: { kind: 'trace', mesh: s.mesh, preset: s.preset, allreduce: s.allreduce },
    gpuPf: { kind: 'real-prefill', model: 'llama-3.1-8b', hardware: 'h100', prompt: REAL_PROMPT },
    waferPf: { kind: 'real-prefill', model: 'llama-3.1-8b', hardware: 'wse-3', prompt: REAL_PROMPT },
    kv: { kind: 'kv-transfer', model: 'llama-3.1-8b', prompt: REAL_PROMPT, prefill: 'h100', decode: 'wse-3' },
    // Decoding right after the prompt, as `predict --prefill h100 --decode wse-3 --prompt N` does: a context of N + 1.
    waferDecode: { kind: 'predict', model: 'llama-3.1-8b', hardware: 'wse-3', context: REAL_PROMPT + 1 },
    gpuDecode: { kind: 'predict', model: 'llama-3.1-8b', hardware: 'h100', context: REAL_PROMPT + 1 },
  }),
  derive: (v) => {
    const t = v('trace', 'seconds');
    const n = v('pf', 'promptTokens');
    const a = v('gpuPf', 'ttftSeconds');
    const b = v('kv', 'seconds');
    return {
      waferPrefill: typeof t === 'number' && typeof n === 'number' ? t * n : null,
      disaggregatedTtft: typeof a === 'number' && typeof b === 'number' ? a + b : null,
    };
  },
  paragraphs: [
    'Before its first new token, a model must read the whole prompt: the *prefill*. A GPU can take all {pf.promptTokens} prompt tokens as one batch, ' +
      'streaming each weight once for all of them, so its arithmetic at last has enough to do. *Decode* then makes one token at a time and is memory-bound again.',
    'Modelled on the toy GPU: the batched prefill of {pf.promptTokens} tokens takes {pf.batchSeconds:s} ({pf.batchTokensPerS:tps}, bound by {pf.batchBound:str}); ' +
      'fed one token at a time the same prompt would take {pf.oneByOneSeconds:s}.',
    'By default the emulated wafer feeds the prompt token by token at its decode speed, {trace.tokensPerS:tps}, ' +
      'so the same prompt takes it {calc.waferPrefill:s}. It can also take the whole prompt at once on its fabric (`generate --engine mesh --wafer-prefill gemm`): ' +
      'every linear layer a distributed matrix product (MeshGEMM) with the weights resident where they were placed, the keys and values gathered along each row of cores, ' +
      'then the KV cache handed to the decode’s layout. Modelled, it overtakes the token-by-token feed once the prompt is long against the weights’ tiles that MeshGEMM shifts; ' +
      'in the emulator it stays slower in wall clock, since the emulator steps every word of every shift.',
    'At real scale *predict* models the prefill the same way: each product of the prompt as a matrix–matrix product on the cores that hold its weights (MeshGEMM with the weights resident, or SUMMA, the faster). ' +
      'Llama-3.1-8B with a {gpuPf.prompt}-token prompt: the first token after {waferPf.ttftSeconds:s} on one WSE-3 (bound by {waferPf.bound:str}), ' +
      'after {gpuPf.ttftSeconds:s} on one H100 (bound by {gpuPf.bound:str}).',
    'That split suggests *disaggregation*: prefill on one machine, decode on another, the prompt’s KV cache ({kv.bytes:bytes}) sent between them in {kv.seconds:s}. ' +
      'Prefill on an H100 and decode on a WSE-3: the first token after {calc.disaggregatedTtft:s}, then {waferDecode.tokensPerS:tps} instead of the H100’s {gpuDecode.tokensPerS:tps}.',
  ],
  tryThis: { text: 'Play the race: both machines read the prompt first; the first token they show comes after it.', action: { kind: 'play' } },
  question: {
    text: 'Per prompt token, is the GPU’s batched prefill faster or slower than decoding the prompt one token at a time?',
    choices: ['Faster', 'About the same', 'Slower'],
    needs: 'figures',
    check: (v) => {
      const a = v('pf', 'batchSeconds');
      const b = v('pf', 'oneByOneSeconds');
      if (typeof a !== 'number' || typeof b !== 'number') return null;
      return { answer: b > a * 1.5 ? 0 : a > b * 1.5 ? 2 : 1, because: 'cost model: {pf.batchSeconds:s} batched against {pf.oneByOneSeconds:s} one by one for {pf.promptTokens} tokens.' };
    },
  },
};
