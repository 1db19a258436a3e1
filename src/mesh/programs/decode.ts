import { WafermeshError } from '../../errors.ts';
import type { ModelConfig } from '../../model/config.ts';
import { ALLREDUCE_ALGORITHMS, DEFAULT_ALLREDUCE, type Allreduce } from '../collectives.ts';
import type { MeshConfig } from '../config.ts';
import { columnHeads, columnRuns, columnWidth, owners, place, refuseIfNotFits, slotsForRow, split, vectorLength, type VectorKind } from '../placement.ts';
import { ProgramBuilder, type WaferProgram, type WordsFn } from '../program.ts';

/**
 * The decode program: one token, BOS or prompt or generated, at one position, as phases and passes.
 * Links: each core has four outgoing links, id = core * 4 + dir (east, west, south, north); a
 * link carries `wordsPerLinkCycle` 32-bit words per cycle and costs `cyclesPerHop` per hop.
 */
export function compileProgram(model: ModelConfig, mesh: MeshConfig, allreduce: Allreduce = DEFAULT_ALLREDUCE, valueBytes = 4): WaferProgram {
  if (!ALLREDUCE_ALGORITHMS.includes(allreduce)) {
    throw new WafermeshError('bad-option', `allreduce "${allreduce}" is not one of ${ALLREDUCE_ALGORITHMS.join(', ')}`);
  }
  const placement = place(model, mesh, valueBytes);
  refuseIfNotFits(placement);
  const m = model;
  const W = mesh.width;
  const H = mesh.height;
  const rowOf = (core: number) => Math.floor(core / W);
  const colOf = (core: number) => core % W;
  const rows = (k: VectorKind, core: number) => {
    const [lo, hi] = split(vectorLength(m, k), H, rowOf(core));
    return hi - lo;
  };
  const cols = (k: VectorKind, core: number) => columnWidth(m, mesh, k, colOf(core));
  const used = (core: number, pos: number) => slotsForRow(pos + 1, H, rowOf(core)); // positions ≤ pos in this row
  // Elements of column c's slice of a `kind` vector that row r owns after a row reduction.
  const share = (k: VectorKind, core: number) => {
    const [lo, hi] = split(vectorLength(m, k), H, rowOf(core));
    let n = 0;
    for (const [a, b] of runsOf(k, core)) n += Math.max(0, Math.min(b, hi) - Math.max(a, lo));
    return n;
  };
  const runsCache = new Map<string, [number, number][]>();
  const runsOf = (k: VectorKind, core: number) => {
    const key = `${k}:${colOf(core)}`;
    let r = runsCache.get(key);
    if (!r) {
      r = columnRuns(m, mesh, k, colOf(core));
      runsCache.set(key, r);
    }
    return r;
  };

  // The columns each head's coordinates span, and the heads each column covers.
  const own = owners(m, mesh);
  const headSegments: [number, number][] = own.headColumns.map(([lo, hi]) => [lo, hi + 1]);
  const headsOfCol = Array.from({ length: W }, (_, c) => columnHeads(m, mesh, c).count);
  const heads = (core: number) => headsOfCol[colOf(core)];

  const b = new ProgramBuilder();
  const transfer = b.transfer.bind(b);
  const compute = b.compute.bind(b);
  const pass = b.pass.bind(b);
  const rowAllreduce = (name: string, layer: number | null, words: WordsFn) =>
    transfer({ name, layer, collective: 'row-allreduce', algorithm: allreduce, words });
  const gather = (name: string, layer: number | null, gathers: VectorKind[], words: WordsFn) =>
    transfer({ name, layer, collective: 'col-gather', algorithm: 'line', words, gathers });

  // Embedding: the token's row broadcasts its embedding slice down every column.
  transfer({
    name: 'embedding broadcast',
    layer: null,
    collective: 'col-broadcast',
    algorithm: 'line',
    words: (core) => cols('dim', core),
    sourceRow: (token) => own.row.vocab[token],
  });
  compute({ name: 'sum of squares', layer: null, flops: (c) => 2 * cols('dim', c) });
  pass('embed', null);

  for (let l = 0; l < m.nLayers; l++) {
    rowAllreduce('attention norm: allreduce Σx²', l, () => 1);
    compute({
      name: 'rmsnorm; q, k, v tile products',
      layer: l,
      flops: (c) => 3 * cols('dim', c) + 2 * (rows('dim', c) + 2 * rows('kv', c)) * cols('dim', c),
    });
    pass('qkv', l);

    rowAllreduce('q, k, v: row reduction', l, (c) => rows('dim', c) + 2 * rows('kv', c));
    gather('q, k, v: column gather', l, ['dim', 'kv'], (c) => share('dim', c) + 2 * share('kv', c));
    compute({
      name: 'RoPE; KV-cache store; score partials',
      layer: l,
      flops: (c, pos) => 3 * cols('dim', c) + 3 * cols('kv', c) + 2 * cols('dim', c) * used(c, pos),
    });
    pass('scores', l);

    // Only the columns a head spans hold parts of its scores: each head's segment of the row is
    // reduced on its own (words per core: its positions, per segment it belongs to).
    transfer({
      name: 'attention scores: per-head row segments',
      layer: l,
      collective: 'row-segment-allreduce',
      algorithm: allreduce,
      words: (c, pos) => used(c, pos),
      segments: headSegments,
    });
    compute({
      name: 'local softmax statistics; weighted values',
      layer: l,
      flops: (c, pos) => 3 * heads(c) * used(c, pos) + 2 * cols('dim', c) * used(c, pos),
    });
    pass('softmax', l);

    transfer({
      name: 'attention: column softmax-combine',
      layer: l,
      collective: 'col-allreduce',
      algorithm: allreduce,
      words: (c) => 2 * heads(c) + cols('dim', c),
    });
    compute({ name: 'wo tile product', layer: l, flops: (c) => 2 * rows('dim', c) * cols('dim', c) });
    pass('wo', l);

    rowAllreduce('wo: row reduction', l, (c) => rows('dim', c));
    gather('wo: column gather', l, ['dim'], (c) => share('dim', c));
    compute({ name: 'residual; Σx²', layer: l, flops: (c) => 3 * cols('dim', c) });
    pass('residual_attn', l);

    rowAllreduce('ffn norm: allreduce Σx²', l, () => 1);
    compute({
      name: 'rmsnorm; w1, w3 tile products',
      layer: l,
      flops: (c) => 3 * cols('dim', c) + 4 * rows('hidden', c) * cols('dim', c),
    });
    pass('w13', l);

    rowAllreduce('w1, w3: row reduction', l, (c) => 2 * rows('hidden', c));
    gather('w1, w3: column gather', l, ['hidden'], (c) => 2 * share('hidden', c));
    compute({
      name: 'SwiGLU; w2 tile product',
      layer: l,
      flops: (c) => 5 * cols('hidden', c) + 2 * rows('dim', c) * cols('hidden', c),
    });
    pass('w2', l);

    rowAllreduce('w2: row reduction', l, (c) => rows('dim', c));
    gather('w2: column gather', l, ['dim'], (c) => share('dim', c));
    compute({ name: 'residual; Σx²', layer: l, flops: (c) => 3 * cols('dim', c) });
    pass('residual_ffn', l);
  }

  rowAllreduce('final norm: allreduce Σx²', null, () => 1);
  compute({
    name: 'rmsnorm; classifier tile product',
    layer: null,
    flops: (c) => 3 * cols('dim', c) + 2 * rows('vocab', c) * cols('dim', c),
  });
  pass('classifier', null);
  rowAllreduce('logits: row reduction', null, (c) => rows('vocab', c));
  pass('logits', null);

  return { model, mesh, placement, allreduce, phases: b.phases, passes: b.passes };
}

