import { describe, expect, it } from 'vitest';
import { modelEntry } from '../../src/catalog.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { fabricTokenCycles, LAYER_PHASES, PHASE_KINDS, type ClosedCost, type PhaseKind } from '../../src/mesh/fabric-closed.ts';
import { traceFabricToken } from '../../src/mesh/fabric-trace.ts';
import { kvCopies, place } from '../../src/mesh/placement.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import type { PhaseTrace } from '../../src/mesh/fabric-trace.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K().config;
// The separate-classifier GQA model of test/engines/fabric-decode.test.ts.
const gqaSeparate: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

/** The closed form's kind of a traced phase, by the name decode-fabric.ts gives it. */
function kindOf(p: PhaseTrace): PhaseKind {
  if (p.kind === 'compute') return 'compute';
  const name = p.name.replace(/^L\d+ /, '');
  const kinds: [RegExp, PhaseKind][] = [
    [/^embedding: column allreduce$/, 'embedding'],
    [/^attention norm:/, 'attention norm'],
    [/^q, k, v:/, 'q, k, v'],
    [/^attention scores:/, 'attention scores'],
    [/^attention: column maxima$/, 'column maxima'],
    [/^attention: column sums$/, 'column sums'],
    [/^wo:/, 'wo'],
    [/^ffn norm:/, 'ffn norm'],
    [/^w1, w3:/, 'w1, w3'],
    [/^w2:/, 'w2'],
    [/^final norm:/, 'final norm'],
    [/^logits:/, 'logits'],
    [/^next token:/, 'next token'],
  ];
  const k = kinds.find(([re]) => re.test(name));
  if (!k) throw new Error(`the fabric decode has a phase the closed form does not cost: "${p.name}"`);
  return k[1];
}

const PARTS = ['cycles', 'compute', 'hops', 'serialisation', 'ramps', 'linkWords', 'flops'] as const;
const ofTrace = (p: Pick<PhaseTrace, 'cycles' | 'breakdown' | 'linkWords' | 'flops'>): ClosedCost => ({
  cycles: p.cycles,
  compute: p.breakdown.compute,
  hops: p.breakdown.hops,
  serialisation: p.breakdown.serialisation,
  ramps: p.breakdown.ramps,
  linkWords: p.linkWords,
  flops: p.flops,
});
const ZERO: ClosedCost = { cycles: 0, compute: 0, hops: 0, serialisation: 0, ramps: 0, linkWords: 0, flops: 0 };
const plus = (a: ClosedCost, b: ClosedCost): ClosedCost => Object.fromEntries(PARTS.map((k) => [k, a[k] + b[k]])) as unknown as ClosedCost;

function expectEqual(closed: ClosedCost, traced: ClosedCost, what: string) {
  for (const k of PARTS) expect(closed[k], `${what}: ${k}`).toBe(traced[k]);
}

/** The closed form against the trace of the compiled decode: every phase kind, every layer's phases, every part, and the token. */
function check(model: ModelConfig, mesh: MeshConfig, label: string) {
  for (const algorithm of ['chain', 'ring', 'ktree'] as const) {
    const program = compileProgram(model, mesh, algorithm);
    const decode = compileFabricDecode(program, algorithm);
    const context = program.placement.context;
    for (const pos of [...new Set([0, 1, 17, context - 1])].filter((p) => p < context)) {
      const token = (pos * 7 + 3) % model.vocabSize;
      const what = `${label} ${algorithm} pos ${pos} token ${token}`;
      const trace = traceFabricToken(decode, token, pos);
      const closed = fabricTokenCycles(model, mesh, pos, algorithm, token, context);
      expect(closed.steps, what).toBe(trace.phases.length);
      const kinds = Object.fromEntries(PHASE_KINDS.map((k) => [k, ZERO])) as Record<PhaseKind, ClosedCost>;
      for (const p of trace.phases) {
        const kind = kindOf(p);
        kinds[kind] = plus(kinds[kind], ofTrace(p));
        // Each layer's phase and each compute pass on its own, too.
        if (p.kind === 'compute') {
          expect(Object.keys(closed.passes), `the fabric decode has a compute pass the closed form does not cost: "${p.name}"`).toContain(p.name);
          expectEqual(closed.passes[p.name as keyof typeof closed.passes], ofTrace(p), `${what}: pass ${p.name}`);
        }
        else if ((LAYER_PHASES as readonly string[]).includes(kind)) expectEqual(closed.layer[kind as (typeof LAYER_PHASES)[number]], ofTrace(p), `${what}: ${p.name}`);
      }
      for (const k of PHASE_KINDS) expectEqual(closed.kinds[k], kinds[k], `${what}: ${k}`);
      expectEqual(closed.total, ofTrace(trace), `${what}: token`);
    }
  }
}

/** The wse-3 core, or the same with 4 MB of SRAM where the model does not fit 48 KB cores. */
function meshFor(model: ModelConfig, w: number, h: number): MeshConfig {
  const small = meshFromPreset('wse-3', w, h);
  return place(model, small).fits ? small : meshFromPreset('wse-3-big-sram', w, h);
}

describe('the fabric decode costed in closed form equals its trace exactly', () => {
  it('stories260K on 8x8, 16x16, 6x10 and 5x3, chain and K-tree, positions 0, 1, 17 and the last', () => {
    for (const [w, h] of [[8, 8], [16, 16], [6, 10], [5, 3]] as const) check(stories, meshFor(stories, w, h), `stories260K ${w}x${h}`);
  });

  it('the separate-classifier GQA model on 6x7, 4x3 and 1x1', () => {
    for (const [w, h] of [[6, 7], [4, 3], [1, 1]] as const) check(gqaSeparate, meshFor(gqaSeparate, w, h), `gqa ${w}x${h}`);
  });

  it('score segments with columns that only route (12 columns over 8 attention units)', () => {
    const small: ModelConfig = { dim: 32, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 61, seqLen: 24, sharedClassifier: false };
    for (const [w, h] of [[12, 2], [12, 1]] as const) check(small, meshFor(small, w, h), `small ${w}x${h}`);
  });

  it('meshes that keep the KV cache more than once (a multicast in the q, k, v phase): the GQA model on 14x3, 16x2, 14x1 and 20x1, stories260K on 32x2', () => {
    expect(kvCopies(gqaSeparate, meshFromPreset('wse-3', 14, 3))).toBe(3);
    expect(kvCopies(stories, meshFromPreset('wse-3', 32, 2))).toBe(2);
    // One row: every KV coordinate's multicast on one line, spans of several lengths in one stream.
    for (const [w, h] of [[14, 3], [16, 2], [14, 1], [20, 1]] as const) check(gqaSeparate, meshFor(gqaSeparate, w, h), `gqa ${w}x${h}`);
    check(stories, meshFor(stories, 32, 2), 'stories260K 32x2');
  });

  it('at other α, β and link widths (3 cycles a hop, 5 a ramp, 2 words a cycle; and β = 0)', () => {
    const odd = (m: MeshConfig, hop: number, ramp: number, bw: number): MeshConfig => ({ ...m, cyclesPerHop: hop, cyclesPerRamp: ramp, wordsPerLinkCycle: bw });
    check(stories, odd(meshFor(stories, 6, 10), 3, 5, 2), 'stories260K 6x10 α3 β5 bw2');
    check(gqaSeparate, odd(meshFor(gqaSeparate, 14, 3), 3, 5, 2), 'gqa 14x3 α3 β5 bw2');
    check(gqaSeparate, odd(meshFor(gqaSeparate, 6, 7), 1, 0, 1), 'gqa 6x7 β0');
  });

  it('a larger GQA model on 40x24 (KV cache kept twice, uneven heads per column)', () => {
    const model: ModelConfig = { dim: 128, hiddenDim: 344, nLayers: 1, nHeads: 8, nKvHeads: 2, vocabSize: 301, seqLen: 64, sharedClassifier: true };
    const mesh = meshFor(model, 40, 24);
    expect(kvCopies(model, mesh)).toBeGreaterThan(1);
    check(model, mesh, 'gqa-128 40x24');
  });
});

describe('the closed form on a whole wafer', () => {
  it('costs Llama-3.1-70B on a whole WSE-3 (762 x 1172) without compiling the decode: every layer alike, kinds adding up to the token', () => {
    const model = modelEntry('llama-3.1-70b')!.config!;
    const mesh = meshFromPreset('wse-3', 762, 1172);
    const c = fabricTokenCycles(model, mesh, 8191, 'ktree');
    expect(c.steps).toBe(3 + 18 * model.nLayers + 3 + 4);
    let sum = 0;
    for (const k of PHASE_KINDS) sum += c.kinds[k].cycles;
    expect(c.total.cycles).toBeCloseTo(sum, 3);
    for (const k of LAYER_PHASES) expect(c.kinds[k].cycles, k).toBeCloseTo(c.layer[k].cycles * model.nLayers, 3);
    expect(c.total.cycles).toBeCloseTo(c.total.compute + c.total.hops + c.total.serialisation + c.total.ramps, 3);
    // The chain's reduce-scatter along a 762-core row relays at every core: at least 761 (α + β) per scatter.
    expect(c.layer['w2'].cycles).toBeGreaterThanOrEqual(761 * (mesh.cyclesPerHop + mesh.cyclesPerRamp));
  });
});
