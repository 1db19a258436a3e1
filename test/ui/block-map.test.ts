import { describe, expect, it } from 'vitest';
import { makeConfig } from '../../src/model/config.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import { traceFabricToken } from '../../src/mesh/fabric-trace.ts';
import { BLOCK_NODES, blockNodeOf } from '../../src/ui/block-map.ts';

describe("the block diagram's map from a wafer step to the transformer", () => {
  it('places every step of the fabric decode, in the order of the block', () => {
    const config = makeConfig({ dim: 64, hiddenDim: 96, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 128, seqLen: 32, sharedClassifier: true });
    for (const allreduce of ['chain', 'ring', 'ktree'] as const) {
      const decode = compileFabricDecode(compileProgram(config, meshFromPreset('wse-3', 4, 4), allreduce));
      const steps = traceFabricToken(decode, 1, 0).phases;
      const nodes = steps.map((p) => blockNodeOf(p.kind, p.name));
      expect(steps.filter((_, i) => nodes[i] === null).map((p) => p.name)).toEqual([]);
      const order = BLOCK_NODES.map((b) => b.id);
      // Within a layer the nodes never go back (residual aside, which closes both halves).
      for (let l = 0; l < config.nLayers; l++) {
        const ids = steps.filter((p) => p.layer === l).map((p) => blockNodeOf(p.kind, p.name)!).filter((n) => n !== 'residual');
        const idx = ids.map((n) => order.indexOf(n));
        expect(idx).toEqual([...idx].sort((a, b) => a - b));
      }
      expect(nodes[0]).toBe('embed');
      expect(nodes[nodes.length - 1]).toBe('next');
    }
  });

  it('names what it does not know as nothing rather than guessing', () => {
    expect(blockNodeOf('compute', 'mystery')).toBeNull();
    expect(blockNodeOf('transfer', 'L0 q, k, v: reduce-scatter and gather')).toBe('qkv');
    expect(blockNodeOf('transfer', 'L3 wo: reduce-scatter and gather')).toBe('wo');
    expect(blockNodeOf('transfer', 'L3 w2: reduce-scatter and gather')).toBe('w2');
  });
});
