import type { Lesson } from './lesson.ts';

/** Prompt tokens the chapter's prefill figures are worked out for. */
const PROMPT_TOKENS = 64;

/** Chapter 6: prefill against decode, and disaggregation. */
export const prefillDecode: Lesson = {
  id: 'prefill-decode',
  title: 'Prefill against decode',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'emulated' },
  figures: (s) => ({
    pf: { kind: 'prefill', promptTokens: PROMPT_TOKENS },
    trace: { kind: 'trace', mesh: s.mesh, preset: s.preset, allreduce: s.allreduce },
  }),
  derive: (v) => {
    const t = v('trace', 'seconds');
    const n = v('pf', 'promptTokens');
    return { waferPrefill: typeof t === 'number' && typeof n === 'number' ? t * n : null };
  },
  paragraphs: [
    'Before its first new token, a model must read the whole prompt: the *prefill*. A GPU can take all {pf.promptTokens} prompt tokens as one batch, ' +
      'streaming each weight once for all of them, so its arithmetic at last has enough to do. *Decode* then makes one token at a time and is memory-bound again.',
    'Modelled on the toy GPU: the batched prefill of {pf.promptTokens} tokens takes {pf.batchSeconds:s} ({pf.batchTokensPerS:tps}, bound by {pf.batchBound:str}); ' +
      'fed one token at a time the same prompt would take {pf.oneByOneSeconds:s}.',
    'The emulated wafer does not batch its prefill yet: it feeds the prompt token by token at its decode speed, {trace.tokensPerS:tps} (modelled), ' +
      'so the same prompt takes it {calc.waferPrefill:s}. A batched prefill on the fabric, a distributed matrix product, is the next step for the emulator; ' +
      'when it lands this chapter will race the two prefills. The split already suggests *disaggregation*: prefill where arithmetic is plentiful, ' +
      'decode where the weights sit beside the arithmetic.',
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
