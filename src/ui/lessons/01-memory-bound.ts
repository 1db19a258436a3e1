import type { Lesson } from './lesson.ts';

/** Chapter 1: why decoding one token at a time is limited by memory, not arithmetic. */
export const memoryBound: Lesson = {
  id: 'memory-bound',
  title: 'Why decode is memory-bound',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'emulated', tokens: 24 },
  figures: () => ({
    model: { kind: 'model' },
    gpu: { kind: 'gpu', pos: 0 },
    scale: { kind: 'scale', real: 'h100', toy: 'toy-gpu' },
    h100: { kind: 'predict', model: 'llama-3.1-8b', hardware: 'h100' },
  }),
  derive: (v) => {
    const bytes = v('live', 'gpuBytesPerToken');
    const weights = v('model', 'weightBytes');
    return { perWeight: typeof bytes === 'number' && typeof weights === 'number' ? bytes / weights : null };
  },
  paragraphs: [
    'A language model writes one *token* (a word or a piece of one) at a time. To *decode* a token it multiplies a short vector of ' +
      '{model.dim} numbers, the *activations*, by every weight matrix of the model: {model.parameters} weights, {model.weightBytes:bytes} at four bytes each.',
    'A GPU keeps the weights in *HBM*, memory beside the chip but off it, and streams every one of them through its memory bus for every token. ' +
      'Each weight is used for one multiply-add and dropped; the bus, not the arithmetic, sets the pace. That is what *memory-bound* means.',
    'The GPU pane is an H100 scaled down {scale.factor:x} (bandwidth, arithmetic and memory divided alike), so this small model streams about as long per token as ' +
      'Llama-3.1-8B does on a real H100. Per token it moves {gpu.bytesPerToken:bytes}, which takes {gpu.hbmSeconds:s}; its {gpu.flops} arithmetic operations alone would take {gpu.computeSeconds:s}. ' +
      'A real H100 decoding Llama-3.1-8B at fp16: {h100.tokensPerS:tps}, bound by {h100.bound:str}.',
  ],
  tryThis: { text: 'Step one token and watch the GPU view: the bytes it streamed for that token appear under it.', action: { kind: 'step-token' } },
  question: {
    text: 'Before you step: how many bytes will the GPU read from HBM for one token?',
    choices: ['A few kilobytes: only the activations', 'About all of the weights, once', 'Many times the weights'],
    needs: 'token',
    check: (v) => {
      const r = v('calc', 'perWeight');
      if (typeof r !== 'number') return null;
      return {
        answer: r < 0.1 ? 0 : r < 3 ? 1 : 2,
        because: 'The token just decoded streamed {live.gpuBytesPerToken:bytes}; the weights are {model.weightBytes:bytes} ({calc.perWeight:x} of them): every weight once, plus the KV cache.',
      };
    },
  },
};
