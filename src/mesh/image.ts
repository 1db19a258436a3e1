import { WafermeshError } from '../errors.ts';
import { headSize, kvDim } from '../model/config.ts';
import type { Model } from '../model/weights.ts';
import { columnHeads, columnRuns, owners, split, STATS_LAYOUT, vectorLength, type CorePlacement, type VectorKind } from './placement.ts';
import { ROLE_EMBED, ROLE_HEAD, type WaferProgram } from './program.ts';
import { stageModel } from './pipelined.ts';

/**
 * Core-table fields, one u32 each per core, in this order. The shader reads them by the constants
 * `meshPrelude` generates from this list (F_ROW, F_LAYER_STRIDE, …): there is no second copy.
 */
const FIELDS = [
  'row', 'col', 'layer0', 'layerStride',
  'rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w3', 'w2',
  'rmsFinal', 'embedding', 'wcls',
  'x', 'xb', 'q', 'k', 'v', 'attO', 'att', 'hb', 'hb2', 'partial', 'partialB', 'logits', 'stats', 'scores', 'scoresAll', 'kv',
  'nDim', 'nKv', 'nHid', 'slots',
  'loDim', 'rowsDim', 'loKv', 'rowsKv', 'loHid', 'rowsHid', 'loVocab', 'rowsVocab',
  'idxDim', 'idxKv', 'idxKvPos', 'idxHid',
  'headLo', 'nHeads',
  // The block the core belongs to (the whole mesh unless the placement is layer-pipelined): its
  // height, its layers [layerFirst, layerFirst + layerCount) and its role (1: it embeds the token,
  // 2: it holds the head). `row` and `col` are counted within the block.
  'blockH', 'layerFirst', 'layerCount', 'blockRole',
] as const;
export const CT = FIELDS.length;
export type CoreField = (typeof FIELDS)[number];
/** Index of a field in a core's table entry. */
export const fieldIndex = (f: CoreField): number => FIELDS.indexOf(f);

const LAYER_REGIONS = ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w3', 'w2'] as const;
/** The kernels keep per-head statistics in private arrays of this size. */
export const MAX_HEADS = 64;
/** Owner tables in the index buffer, one per vector kind (placement.ts `owners`), then dim's columns. */
const OWNER_TABLES = ['dim', 'kv', 'hidden', 'vocab'] as const;

const upperSnake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/**
 * The WGSL constants the mesh kernels need that `override` cannot give (they size private arrays
 * or are a table's layout): generated from the lists above at pipeline creation.
 */
export function meshPrelude(ownerOffsets: Readonly<Record<string, number>>, maxSide: number): string {
  const lines = ['// Generated from src/mesh/image.ts: the core table, stats and owner-table layout.', `const CT: u32 = ${CT}u;`];
  FIELDS.forEach((f, i) => lines.push(`const F_${upperSnake(f)}: u32 = ${i}u;`));
  for (const [k, v] of Object.entries(STATS_LAYOUT)) lines.push(`const S_${upperSnake(k)}: u32 = ${v}u;`);
  for (const [k, v] of Object.entries(ownerOffsets)) lines.push(`const O_${upperSnake(k)}: u32 = ${v}u;`);
  lines.push(`const MAX_HEADS: u32 = ${MAX_HEADS}u;`);
  // A binary tree over a line of up to maxSide members keeps at most log2(maxSide) + 1 partials.
  lines.push(`const TREE_STACK: u32 = ${Math.ceil(Math.log2(maxSide)) + 1}u;`);
  return lines.join('\n');
}

function indices(runs: [number, number][]): number[] {
  const out: number[] = [];
  for (const [lo, hi] of runs) for (let i = lo; i < hi; i++) out.push(i);
  return out;
}

/**
 * The wafer's memory image and configuration: every core's SRAM slice filled with its tiles
 * (weights placed once, never moved), the core table (region offsets, slice sizes) and the index
 * lists saying which vector coordinates each core owns. These are the router and core
 * configuration a real wafer would be loaded with before it runs.
 */
export function buildImage(program: WaferProgram, model: Model): { sram: Float32Array; table: Uint32Array; idx: Uint32Array; ownerOffsets: Record<string, number> } {
  if (program.pipeline) return buildPipelinedImage(program, model);
  const { mesh, placement } = program;
  const m = model.config;
  const w = model.weights;
  const W = mesh.width;
  const H = mesh.height;
  const SRAM = mesh.sramBytes / 4;
  const nCores = W * H;
  if (placement.valueBytes !== 4) {
    throw new WafermeshError('unsupported-precision', `the emulated wafer runs f32 (4 bytes per value); this program was compiled for ${placement.valueBytes}`);
  }
  if (m.nHeads > MAX_HEADS) {
    throw new WafermeshError('unsupported-model', `the mesh engine supports up to ${MAX_HEADS} heads; this model has ${m.nHeads}: use --engine gpu or cpu for it`);
  }
  const sram = new Float32Array(nCores * SRAM);
  const table = new Uint32Array(nCores * CT);
  const idxList: number[] = [];
  // The owner tables first (shared by every core), then each core's index lists.
  const own = owners(m, mesh);
  const ownerOffsets: Record<string, number> = {};
  const append = (name: string, t: Uint32Array) => {
    ownerOffsets[name] = idxList.length;
    for (const v of t) idxList.push(v);
  };
  for (const k of OWNER_TABLES) append(`row_${k}`, own.row[k]);
  append('col_dim', own.col.dim);
  const kvd = kvDim(m);
  for (let core = 0; core < nCores; core++) {
    const cp: CorePlacement = placement.cores[core];
    const r = cp.row;
    const c = cp.col;
    const region = new Map(cp.regions.map((x) => [x.name, x]));
    const off = (name: string) => {
      const g = region.get(name);
      if (!g) throw new WafermeshError('internal', `the placement has no region ${name}; the placement and the runtime disagree (a bug: please report it)`);
      return g.offset;
    };
    const dimIdx = indices(columnRuns(m, mesh, 'dim', c));
    const kvIdx = indices(columnRuns(m, mesh, 'kv', c));
    const hidIdx = indices(columnRuns(m, mesh, 'hidden', c));
    const kvMul = m.nHeads / m.nKvHeads;
    const hs = headSize(m);
    const kvPos = dimIdx.map((i) => kvIdx.indexOf(Math.floor(Math.floor(i / hs) / kvMul) * hs + (i % hs)));
    const rowsOf = (k: VectorKind) => split(vectorLength(m, k), H, r);
    const base = core * SRAM;
    // Tile of matrix `mat` (out, in) at element offset `mOff`: rows of this row, input coords `cols`.
    const put = (name: string, mat: Float32Array, mOff: number, outKind: VectorKind, inLen: number, cols: number[]) => {
      const [lo, hi] = rowsOf(outKind);
      let a = base + off(name);
      for (let i = lo; i < hi; i++) for (const j of cols) sram[a++] = mat[mOff + i * inLen + j];
    };
    const vec = (name: string, v: Float32Array, vOff: number, cols: number[]) => {
      let a = base + off(name);
      for (const j of cols) sram[a++] = v[vOff + j];
    };
    for (let l = 0; l < m.nLayers; l++) {
      vec(`L${l}.rmsAtt`, w.rmsAtt, l * m.dim, dimIdx);
      put(`L${l}.wq`, w.wq, l * m.dim * m.dim, 'dim', m.dim, dimIdx);
      put(`L${l}.wk`, w.wk, l * kvd * m.dim, 'kv', m.dim, dimIdx);
      put(`L${l}.wv`, w.wv, l * kvd * m.dim, 'kv', m.dim, dimIdx);
      put(`L${l}.wo`, w.wo, l * m.dim * m.dim, 'dim', m.dim, dimIdx);
      vec(`L${l}.rmsFfn`, w.rmsFfn, l * m.dim, dimIdx);
      put(`L${l}.w1`, w.w1, l * m.hiddenDim * m.dim, 'hidden', m.dim, dimIdx);
      put(`L${l}.w3`, w.w3, l * m.hiddenDim * m.dim, 'hidden', m.dim, dimIdx);
      put(`L${l}.w2`, w.w2, l * m.dim * m.hiddenDim, 'dim', m.hiddenDim, hidIdx);
    }
    vec('rmsFinal', w.rmsFinal, 0, dimIdx);
    put('embedding', w.tokenEmbedding, 0, 'vocab', m.dim, dimIdx);
    if (!m.sharedClassifier) put('wcls', w.wcls, 0, 'vocab', m.dim, dimIdx);

    const layer0 = off('L0.rmsAtt');
    const layerStride = m.nLayers > 1 ? off('L1.rmsAtt') - layer0 : 0;
    const f: Record<(typeof FIELDS)[number], number> = {
      row: r,
      col: c,
      layer0,
      layerStride,
      ...(Object.fromEntries(LAYER_REGIONS.map((n) => [n, off(`L0.${n}`) - layer0])) as Record<(typeof LAYER_REGIONS)[number], number>),
      rmsFinal: off('rmsFinal'),
      embedding: off('embedding'),
      wcls: m.sharedClassifier ? off('embedding') : off('wcls'),
      x: off('x'),
      xb: off('xb'),
      q: off('q'),
      k: off('k'),
      v: off('v'),
      attO: off('attO'),
      att: off('att'),
      hb: off('hb'),
      hb2: off('hb2'),
      partial: off('partial'),
      partialB: off('partialB'),
      logits: off('logits'),
      stats: off('stats'),
      scores: off('scores'),
      scoresAll: off('scoresAll'),
      kv: off('kv'),
      nDim: dimIdx.length,
      nKv: kvIdx.length,
      nHid: hidIdx.length,
      slots: cp.kvSlots,
      loDim: rowsOf('dim')[0],
      rowsDim: rowsOf('dim')[1] - rowsOf('dim')[0],
      loKv: rowsOf('kv')[0],
      rowsKv: rowsOf('kv')[1] - rowsOf('kv')[0],
      loHid: rowsOf('hidden')[0],
      rowsHid: rowsOf('hidden')[1] - rowsOf('hidden')[0],
      loVocab: rowsOf('vocab')[0],
      rowsVocab: rowsOf('vocab')[1] - rowsOf('vocab')[0],
      idxDim: idxList.push(...dimIdx) - dimIdx.length,
      idxKv: idxList.push(...kvIdx) - kvIdx.length,
      idxKvPos: idxList.push(...kvPos) - kvPos.length,
      idxHid: idxList.push(...hidIdx) - hidIdx.length,
      headLo: columnHeads(m, mesh, c).first,
      nHeads: columnHeads(m, mesh, c).count,
      blockH: H,
      layerFirst: 0,
      layerCount: m.nLayers,
      blockRole: ROLE_EMBED | ROLE_HEAD,
    };
    FIELDS.forEach((name, i) => (table[core * CT + i] = f[name]));
  }
  return { sram, table, idx: Uint32Array.from(idxList.length ? idxList : [0]), ownerOffsets };
}


/**
 * The image of a layer-pipelined program: each block's image as a mesh of its own (its layers'
 * weights, layer indices counted within the block), at the block's place on the mesh; the core
 * table says each core's block (its height, layers and role), and its index lists follow the
 * owner tables of the first block (every block has the same size, so the same owner tables). A
 * core outside every block holds nothing and takes part in nothing (no layers, no role).
 */
function buildPipelinedImage(program: WaferProgram, model: Model): { sram: Float32Array; table: Uint32Array; idx: Uint32Array; ownerOffsets: Record<string, number> } {
  const p = program.pipeline!;
  const W = program.mesh.width;
  const SRAM = program.mesh.sramBytes / 4;
  const nCores = W * program.mesh.height;
  const sram = new Float32Array(nCores * SRAM);
  const table = new Uint32Array(nCores * CT);
  const idx: Uint32Array[] = [];
  let idxLength = 0;
  let ownerOffsets: Record<string, number> = {};
  const idxFields = (['idxDim', 'idxKv', 'idxKvPos', 'idxHid'] as const).map(fieldIndex);
  p.blocks.forEach((b, k) => {
    const img = buildImage(b.program, stageModel(model, b.layerFirst, b.layerCount));
    if (k === 0) ownerOffsets = img.ownerOffsets;
    for (let i = 0; i < p.width * p.height; i++) {
      const core = (b.y + Math.floor(i / p.width)) * W + b.x + (i % p.width);
      sram.set(img.sram.subarray(i * SRAM, (i + 1) * SRAM), core * SRAM);
      const t = img.table.slice(i * CT, (i + 1) * CT);
      for (const f of idxFields) t[f] += idxLength;
      t[fieldIndex('blockH')] = p.height;
      t[fieldIndex('layerFirst')] = b.layerFirst;
      t[fieldIndex('layerCount')] = b.layerCount;
      t[fieldIndex('blockRole')] = b.role;
      table.set(t, core * CT);
    }
    idx.push(img.idx);
    idxLength += img.idx.length;
  });
  const all = new Uint32Array(idxLength);
  let at = 0;
  for (const part of idx) {
    all.set(part, at);
    at += part.length;
  }
  return { sram, table, idx: all, ownerOffsets };
}
