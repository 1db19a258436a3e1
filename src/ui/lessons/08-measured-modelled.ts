import type { Lesson } from './lesson.ts';

/** Chapter 8: what the emulator measures, what it models, and what it leaves out. */
export const measuredModelled: Lesson = {
  id: 'measured-modelled',
  title: 'What is measured, what is modelled',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, race: 'emulated' },
  figures: (s) => ({ trace: { kind: 'trace', mesh: s.mesh, preset: s.preset, allreduce: s.allreduce } }),
  derive: (v) => {
    const w = v('live', 'wallSecondsPerToken');
    return { wallTps: typeof w === 'number' && w > 0 ? 1 / w : null };
  },
  paragraphs: [
    'wafermesh emulates a wafer; it is not one. Two kinds of numbers appear on the page. *Measured* numbers are counted where things happen: ' +
      'the fabric shader counts every word as it crosses a link — {live.measuredWords} words for the last token, against {live.modelledWords} in the closed form, ' +
      'with {live.phasesEqual} of {live.phases} phases equal. The *wall clock* here is measured too: both engines together take {live.wallSecondsPerToken:s} a token on this computer.',
    '*Modelled* numbers come from the cost model for the preset hardware: the wafer’s {live.meshTokensPerS:tps} and the toy GPU’s {live.gpuTokensPerS:tps} ' +
      'are what WSE-3 cores and an H100-like GPU would do, not what this computer does. The race’s speeds, the cycles, the energies and everything predict prints are modelled; ' +
      'the closed form for this token is {trace.fabricWords} link-words in {trace.cycles} cycles.',
    'Left out of the model: compute and communication overlapping, loading the weights into SRAM, faulty cores routed around, many users batched together, ' +
      'power and cooling. Without WebGPU the wafer’s link counts are the closed form, and the page says so.',
  ],
  tryThis: { text: 'Step one token: the wafer’s figures above its view say which numbers were measured.', action: { kind: 'step-token' } },
  question: {
    text: 'Is the wafer pane’s tokens/s what this computer achieves?',
    choices: ['Yes, it is measured here', 'No, it is modelled for the preset hardware'],
    needs: 'token',
    // The pane's rate is the cost model's for the preset hardware, whatever this computer does: the
    // live numbers say by how much the two differ.
    check: (v) => {
      const modelled = v('live', 'meshTokensPerS');
      const here = v('calc', 'wallTps');
      if (typeof modelled !== 'number' || typeof here !== 'number') return null;
      return { answer: 1, because: 'the pane shows {live.meshTokensPerS:tps}, modelled for WSE-3 cores; this computer decoded a token of both engines together at {calc.wallTps:tps} (wall clock, measured).' };
    },
  },
};
