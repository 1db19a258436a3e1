import { describe, expect, it } from 'vitest';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { hasComputeCaption, stepCaption } from '../../src/worker/captions.ts';

const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

describe('captions of the steps "step one phase" walks on the fabric', () => {
  it('every compute pass of the fabric decode has its own caption, and every fabric phase a caption for what it does', () => {
    for (const [w, h] of [[8, 8], [4, 3]] as const) {
      const d = compileFabricDecode(compileProgram(gqa, meshFromPreset('wse-3-big-sram', w, h), 'tree'), 'ktree');
      for (const s of d.steps) {
        if (s.kind === 'compute') expect(hasComputeCaption(s.entry), s.entry).toBe(true);
        else expect(stepCaption('fabric', d.phases[s.phase].name), d.phases[s.phase].name).not.toBe(stepCaption('fabric', 'an unknown phase'));
      }
    }
  });

  it('says which side of the wafer a step is on', () => {
    expect(stepCaption('compute', 'qkv')).toMatch(/^compute: RMSNorm/);
    expect(stepCaption('fabric', 'L1 attention: column maxima')).toMatch(/^fabric: .*largest score/);
    expect(stepCaption('compute', 'a_new_entry')).toBe('compute: a_new_entry, each core on its own SRAM');
  });
});
