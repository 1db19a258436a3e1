import type { Lesson } from './lesson.ts';

/** Chapter 7: real scale — Llama-3.1-8B and 70B on WSE-3 against H100, and several wafers. */
export const realScale: Lesson = {
  id: 'real-scale',
  title: 'Real scale: 8B and 70B on wafers and GPUs',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'llama-8b', speed: 1 },
  figures: () => ({
    w8: { kind: 'predict', model: 'llama-3.1-8b', hardware: 'wse-3' },
    h8: { kind: 'predict', model: 'llama-3.1-8b', hardware: 'h100' },
    w70: { kind: 'predict', model: 'llama-3.1-70b', hardware: 'wse-3', chips: 4, context: 8192 },
    h70: { kind: 'predict', model: 'llama-3.1-70b', hardware: 'h100', chips: 8, precision: 'fp8' },
    m70: { kind: 'model', model: 'llama-3.1-70b', precision: 'fp16' },
    wafer: { kind: 'wafer', preset: 'wse-3' },
  }),
  derive: (v) => {
    const a = v('w8', 'tokensPerS');
    const b = v('h8', 'tokensPerS');
    return { ratio8: typeof a === 'number' && typeof b === 'number' ? a / b : null };
  },
  paragraphs: [
    'The toy pair is scaled down. *predict* costs real models on whole chips from first principles, with the same cost model the race uses, ' +
      'and no published speed fitted in. Llama-3.1-8B at fp16: one WSE-3 {w8.tokensPerS:tps}, bound by {w8.bound:str}; one H100 {h8.tokensPerS:tps}, bound by {h8.bound:str}: ' +
      '{calc.ratio8:x} faster on the wafer.',
    'Llama-3.1-70B is {m70.weightBytes:bytes} at fp16, more than one wafer’s {wafer.allSramBytes:bytes} of SRAM. Its layers are split over several wafers, ' +
      'each handing its activations to the next: on {w70.chips} WSE-3 with a {w70.context}-position context, {w70.tokensPerS:tps}; on {h70.chips} H100 at fp8, {h70.tokensPerS:tps}.',
    'The race now replays pre-generated text at those speeds in *real time*: one second on screen is one second. Choose the seed’s comparison under the race to see ' +
      'the published claim instead (marked published, not modelled).',
  ],
  table: {
    caption: 'Single-stream decode, modelled by predict',
    columns: ['model', 'hardware', 'precision', 'tokens/s', 'bound by'],
    rows: [
      ['Llama-3.1-8B', '{w8.chips} × WSE-3', '{w8.precision:str}', '{w8.tokensPerS:tps}', '{w8.bound:str}'],
      ['Llama-3.1-8B', '{h8.chips} × H100', '{h8.precision:str}', '{h8.tokensPerS:tps}', '{h8.bound:str}'],
      ['Llama-3.1-70B', '{w70.chips} × WSE-3', '{w70.precision:str}', '{w70.tokensPerS:tps}', '{w70.bound:str}'],
      ['Llama-3.1-70B', '{h70.chips} × H100', '{h70.precision:str}', '{h70.tokensPerS:tps}', '{h70.bound:str}'],
    ],
  },
  tryThis: { text: 'Play the real-scale race and read along with the slower pane.', action: { kind: 'play' } },
  question: {
    text: 'For the same text, how much sooner will the wafer pane finish?',
    choices: ['Less than twice as fast', 'Between twice and ten times as fast', 'More than ten times as fast'],
    needs: 'figures',
    check: (v) => {
      const r = v('calc', 'ratio8');
      if (typeof r !== 'number') return null;
      return { answer: r < 2 ? 0 : r <= 10 ? 1 : 2, because: 'predict: {w8.tokensPerS:tps} against {h8.tokensPerS:tps}, {calc.ratio8:x}.' };
    },
  },
};
