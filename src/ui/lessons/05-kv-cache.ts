import type { Lesson } from './lesson.ts';

const halfRows = (m: { width: number; height: number }) => ({ width: m.width, height: Math.max(1, Math.floor(m.height / 2)) });

/** Chapter 5: attention and the KV cache on the wafer — where it lives and what bounds the context. */
export const kvCache: Lesson = {
  id: 'kv-cache',
  title: 'Attention and the KV cache on the wafer',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'emulated' },
  figures: (s) => ({
    model: { kind: 'model' },
    fit: { kind: 'fit', mesh: s.mesh, preset: s.preset },
    half: { kind: 'fit', mesh: halfRows(s.mesh), preset: s.preset },
  }),
  paragraphs: [
    '*Attention* lets each new token look back at every earlier one. For that the model keeps, for every layer and every position so far, a *key* and a *value* vector: ' +
      'the *KV cache*, {model.kvBytesPerPosition:bytes} per position for this model.',
    'On the wafer the cache lives in SRAM next to the weights (orange on the wafer view). Each key and value coordinate stays in the columns that hold its head, ' +
      'and positions are dealt to the rows in turn, so every row scores its own positions and the rows then add up. ' +
      'The *context*, how many positions fit, is bounded by the SRAM the weights leave free: the fullest core keeps {fit.fullestKvBytes:bytes} of cache, ' +
      'and this mesh holds {fit.context} of the model’s {fit.seqLen} positions (at most {fit.maxContext}).',
    'A GPU keeps its cache in HBM and streams it every token along with the weights, so a long context costs it bandwidth; the wafer pays in SRAM, and in the scores it adds up across rows.',
  ],
  tryThis: { text: 'Step one token, then hover an orange core: its KV-cache bytes are in the tip. The attention phases are those named scores and softmax.', action: { kind: 'step-token' } },
  question: {
    text: 'Keep the columns but halve the rows ({half.cores} cores). The longest context the mesh can hold…',
    choices: ['grows', 'stays the same', 'shrinks, or the model no longer fits'],
    needs: 'figures',
    check: (v) => {
      const fits = v('half', 'fits');
      if (fits === null) return null;
      const a = (v('fit', 'maxContext') as number | null) ?? Infinity;
      const b = (v('half', 'maxContext') as number | null) ?? Infinity;
      return {
        answer: !fits || b < a ? 2 : b > a ? 0 : 1,
        because: 'fit: the longest context is {fit.maxContext} positions on {fit.cores} cores, {half.maxContext} on {half.cores} (fits: {half.fits}).',
      };
    },
  },
};
