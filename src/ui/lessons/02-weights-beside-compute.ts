import type { Lesson } from './lesson.ts';

const half = (m: { width: number; height: number }) => ({ width: Math.max(1, Math.floor(m.width / 2)), height: Math.max(1, Math.floor(m.height / 2)) });

/** Chapter 2: weights in SRAM beside every core; how many cores a model needs. */
export const weightsBesideCompute: Lesson = {
  id: 'weights-beside-compute',
  title: 'Weights beside compute',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'emulated' },
  figures: (s) => ({
    fit: { kind: 'fit', mesh: s.mesh, preset: s.preset },
    small: { kind: 'fit', mesh: half(s.mesh), preset: s.preset },
    wafer: { kind: 'wafer', preset: 'wse-3' },
    l8: { kind: 'model', model: 'llama-3.1-8b', precision: 'fp16' },
    l8wse: { kind: 'predict', model: 'llama-3.1-8b', hardware: 'wse-3' },
  }),
  derive: (v) => {
    const need = v('l8', 'weightBytes');
    const sram = v('wafer', 'sramBytes');
    const cores = v('wafer', 'cores');
    const ok = typeof need === 'number' && typeof sram === 'number' && typeof cores === 'number';
    return { l8cores: ok ? Math.ceil(need / sram) : null, l8share: ok ? need / sram / cores : null };
  },
  paragraphs: [
    'A wafer-scale chip is one whole silicon wafer holding a grid of small *cores*. Each core has its own *SRAM*, fast memory right beside its arithmetic: ' +
      '{fit.sramBytes:kb} per core on this preset. There is no HBM: the weights are spread over all the SRAMs and never move.',
    '*fit* places a model before anything runs: every matrix is cut into *tiles*, and core (r, c) holds row slice r × column slice c of each. ' +
      'On these {fit.cores} cores the weights take {fit.totalWeightBytes:bytes}; the fullest core, ({fit.fullestRow}, {fit.fullestCol}), holds {fit.fullestBytes:bytes} of its {fit.sramBytes:kb}. ' +
      'Blue on the wafer view is weights; hover a core to see which tile it holds.',
    'A whole WSE-3 is {wafer.width} × {wafer.height} cores, {wafer.allSramBytes:bytes} of SRAM. Llama-3.1-8B at fp16 is {l8.weightBytes:bytes} of weights: ' +
      'at least {calc.l8cores} cores’ worth, {calc.l8share:pct} of the wafer, before its KV cache. predict places it on one wafer and decodes at {l8wse.tokensPerS:tps}.',
  ],
  tryThis: {
    text: 'Load the mesh with half the cores on each side ({small.cores} cores) and read the fit report.',
    action: { kind: 'settings', patch: (s) => ({ mesh: half(s.mesh) }) },
  },
  question: {
    text: 'Will this model fit on a mesh with half the cores on each side ({small.cores} cores)?',
    choices: ['Yes, with its whole context', 'Yes, but with a shorter context', 'No: the weights alone do not fit'],
    needs: 'figures',
    check: (v) => {
      const fits = v('small', 'fits');
      if (fits === null) return null;
      const context = v('small', 'context') as number;
      const seq = v('small', 'seqLen') as number;
      return {
        answer: !fits ? 2 : context < seq ? 1 : 0,
        because: 'fit on {small.cores} cores: the fullest core needs {small.fullestBytes:bytes} of {small.sramBytes:kb}; it fits: {small.fits}, with {small.context} of {small.seqLen} positions.',
      };
    },
  },
};
