import { WafermeshError } from '../../errors.ts';
import { headSize, kvDim, type ModelConfig } from '../../model/config.ts';
import { ropeAngle } from '../../model/ops.ts';
import type { Weights } from '../../model/weights.ts';
import { DIR, lineAllgather, lineAllgatherModel, lineAllreduce, lineAllreduceModel, type LineElement, type Lines } from '../collectives.ts';
import type { MeshConfig } from '../config.ts';
import { phaseCycles, type FabricCount, type FabricPhase, type FabricRound, type FabricStream, type LocalCopy, type StreamItem } from '../fabric.ts';
import type { KvHandoff } from './handoff.ts';
import type { WaferProgram } from '../program.ts';
import { ringOrder } from '../ring.ts';
import { compileMeshGemm, type MeshGemm } from './meshgemm.ts';

/**
 * The whole-model prefill on the wafer's fabric: every linear layer is a MeshGEMM (Cannon on the
 * interleaved ring, src/mesh/programs/meshgemm.ts) with the weight's tile as A and the prompt's
 * activations (features × T) as B, on the P × P block of the top-left cores, P = min(W, H).
 *
 * Layout (the prefill's own; the decode's differs). Core at logical (i, j) of the grid (physical
 * row y, column x with ℓ(y) = i, ℓ(x) = j, the folded ring's order) holds, for feature rows
 * i·m … i·m + m − 1 and prompt positions j·nt … j·nt + nt − 1 (nt = ⌈T/P⌉):
 * - X, the residual stream's m × nt tile — exactly MeshGEMM's B tile (i, j) and its C tile (i, j),
 *   so the C of one product is the B of the next with no movement (C stays put under Cannon);
 * - the A tile (i, i + j mod P) of every weight matrix, resident: placed pre-skewed at load, so
 *   Cannon's alignment moves only the activations; it is copied into the product's A slot (its own
 *   SRAM) before each product, since the shifts move A;
 * - its rows' RMSNorm weights and RoPE's cos/sin for its (position, feature pair)s.
 * The features are padded to D' = P·m with m = ⌈n_heads/P⌉·head_size, so a core row holds whole
 * query heads (heads i·⌈n_heads/P⌉ …); the padding rows are zero in every weight and stay zero.
 * K and V are computed expanded to the query heads (row h·hs + e of the expanded Wk is row
 * ⌊h/kvMul⌋·hs + e of Wk), so a core's q, k and v rows are the same heads' — one GEMM each,
 * kvMul times the FLOPs of the grouped K and V, and no movement to pair a query head with its KV head.
 *
 * Phases, per layer (a "core pass" touches only the core's own SRAM; a "fabric phase" moves words
 * neighbour to neighbour and is counted per link):
 * 1. RMSNorm: core pass (sum of squares of its rows per position) → fabric phase "norm" (a chain
 *    allreduce of nt words along each column of the block) → core pass (scale, weight) into XB.
 * 2. Q, K, V: three MeshGEMMs (alignment + P products + P − 1 shifts each); core passes apply RoPE
 *    and keep K and V (the core's own positions: the prefill's KV cache, per layer).
 * 3. Fabric phase "KV gather": an allgather of every core's K and V tiles along its row of the
 *    block, so each core holds K and V of all T positions for its heads. Attention is then a core
 *    pass (scores, causal mask, softmax's max and sum, the weighted V): a head's dims, all its keys
 *    and its values are in the core, so the softmax's reductions need no fabric.
 * 4. O: a MeshGEMM; residual add (core pass).
 * 5. RMSNorm as in 1; W1 and W3 MeshGEMMs; SiLU·mul (core pass); W2 MeshGEMM; residual add.
 * Then the final RMSNorm and the classifier MeshGEMM (vocab × D'), whose C tiles hold the logits,
 * and a fabric phase that carries every core's KV cache (its positions, its heads, every layer)
 * west along its row to the edge column, where it leaves for the decode's layout: in a decode
 * mesh's SRAM (`base` past the decode's words) compileKvRelayout's phases sort it along column 0
 * into the hand-off's landing zones and the hand-off's 'in' phases carry it east to its owners.
 *
 * Non-square mesh (W × H): the block is P × P = min(W, H)²; its cores run everything above, the
 * other |W − H|·P cores hold nothing and idle (the fabric phases stay on the block's lines).
 * Cannon needs the square; SUMMA (summaCycles) would use the rectangle, modelled only.
 */
export interface PrefillPlan {
  readonly mesh: MeshConfig;
  readonly config: ModelConfig;
  /** Prompt positions (0 … T − 1). */
  readonly T: number;
  readonly P: number;
  /** Feature rows per core (whole heads), hidden rows, vocabulary rows, positions per core. */
  readonly m: number;
  readonly mh: number;
  readonly mv: number;
  readonly nt: number;
  /** Padded width D' = P·m. */
  readonly dimPad: number;
  /** Logical index of physical row / column p of the block. */
  readonly logical: readonly number[];
  /** The GEMMs, one per use in a layer (they share the scratch A, B, C slots), and the classifier. */
  readonly gemms: Readonly<Record<GemmName, MeshGemm>>;
  /** Every fabric phase, in order: a layer's phases (run once per layer), then the final ones. */
  readonly phases: readonly FabricPhase[];
  /** Closed-form count of each phase for one run of it. */
  readonly models: readonly FabricCount[];
  /** Index of each GEMM's first phase (its alignment) in `phases`; then its P − 1 shifts. */
  readonly gemmPhase: Readonly<Record<GemmName, number>>;
  /** Index of the norm allreduce phases and the KV gather. */
  readonly normPhase: { readonly att: number; readonly ffn: number; readonly final: number };
  readonly gatherPhase: number;
  /** The last phase: the KV cache to the west edge (once, after the layers). */
  readonly edgePhase: number;
  /** KV words a core keeps (layers × K and V × m × nt). */
  readonly kvWords: number;
  /** Phases [0, layerPhases) run once per layer; the rest once at the end. */
  readonly layerPhases: number;
  /** Word offsets in every core's SRAM. */
  readonly sram: SramLayout;
  /** Fabric regions per core (region r of core c at c·REGIONS + r). */
  readonly regionTable: Uint32Array;
  /** Words each core of the block needs, from word 0 (its first `base` words are not the prefill's). */
  readonly words: number;
  /** The first word the prefill uses in a core (past what the decode uses, when it runs in a decode mesh's SRAM). */
  readonly base: number;
}

export type GemmName = 'q' | 'k' | 'v' | 'o' | 'w1' | 'w3' | 'w2' | 'cls';
export const LAYER_GEMMS: readonly Exclude<GemmName, 'cls'>[] = ['q', 'k', 'v', 'o', 'w1', 'w3', 'w2'];

/**
 * Fabric regions: the product's A, B, C slots (MeshGEMM's 0, 1, 2), the norm's partial and total
 * sums, the core's own K and V slots in the gathers, the gathers, the core's whole SRAM (base 0: the
 * per-layer KV stores) and the west edge's KV buffer.
 */
export const REGION = { a: 0, b: 1, c: 2, ssPart: 3, ssTotal: 4, kOwn: 5, vOwn: 6, kAll: 7, vAll: 8, whole: 9, edge: 10 } as const;
export const REGIONS = 11;

export interface SramLayout {
  /** Two words: the core's logical row and column. */
  readonly id: number;
  /** What is loaded with the model, the same for every prompt length: the place, weights' tiles and RMSNorm weights. */
  readonly loaded: { readonly offset: number; readonly words: number };
  /** The prompt's input the host places per prompt: X (the embeddings) and RoPE's table, contiguous. */
  readonly input: { readonly offset: number; readonly words: number };
  readonly x: number; // (m, nt) residual stream
  readonly xb: number; // (m, nt) normed input / attention output
  readonly q: number; // (m, nt)
  readonly h1: number; // (mh, nt)
  readonly ssPart: number; // (nt,)
  readonly ssTotal: number; // (nt,)
  readonly kAll: number; // (P, m, nt): slot j holds positions j·nt …
  readonly vAll: number; // (P, m, nt)
  readonly rope: number; // (nt, m/2, 2) cos, sin
  readonly rmsFinal: number; // (m,)
  readonly wcls: number; // (mv, m)
  /** (P, layers, 2, m, nt): at the west edge, the KV stores of the row's cores, by physical column. */
  readonly edge: number;
  /** Per layer: the K and V tiles of its own positions (the KV cache), weights' tiles, RMSNorm weights. */
  readonly layer: readonly LayerLayout[];
  /** The products' scratch slots (largest tiles). */
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

export interface LayerLayout {
  readonly k: number; // (m, nt)
  readonly v: number; // (m, nt)
  readonly rmsAtt: number; // (m,)
  readonly rmsFfn: number; // (m,)
  readonly w: Readonly<Record<Exclude<GemmName, 'cls'>, number>>;
}

/** The first SRAM word past everything a decode program uses on any of its cores: where a wafer prefill beside it starts. */
export function prefillBase(program: WaferProgram): number {
  return Math.max(...program.placement.cores.map((c) => Math.max(c.totalWords, ...c.regions.map((r) => r.offset + r.words))));
}

/** Compiles the prefill of a T-position prompt for `config` on `mesh`; refuses what does not fit in one line. */
export function compilePrefill(mesh: MeshConfig, config: ModelConfig, T: number, options: { base?: number } = {}): PrefillPlan {
  if (!Number.isInteger(T) || T < 1 || T > config.seqLen) throw new WafermeshError('bad-prompt', `a prefill of ${T} positions is outside 1…${config.seqLen} (seq_len); shorten the prompt`);
  const { width: W, height: H } = mesh;
  const P = Math.min(W, H);
  const hs = headSize(config);
  const m = Math.ceil(config.nHeads / P) * hs;
  const dimPad = P * m;
  const mh = Math.ceil(config.hiddenDim / P);
  const mv = Math.ceil(config.vocabSize / P);
  const nt = Math.ceil(T / P);
  const order = ringOrder(P);
  const logical = new Array<number>(P);
  order.forEach((x, l) => (logical[x] = l));

  // SRAM layout, from word `base`: first what is loaded with the model (the same for every prompt
  // length: the core's place, the weights' tiles, the RMSNorm weights), then the prompt's input (X
  // and RoPE's table), then the scratch and the KV stores.
  const base = options.base ?? 0;
  let at = base;
  const take = (n: number) => {
    const o = at;
    at += n;
    return o;
  };
  const id = take(2);
  const rmsFinal = take(m);
  const wcls = take(mv * m);
  const weights = Array.from({ length: config.nLayers }, () => ({
    rmsAtt: take(m),
    rmsFfn: take(m),
    w: { q: take(m * m), k: take(m * m), v: take(m * m), o: take(m * m), w1: take(mh * m), w3: take(mh * m), w2: take(m * mh) },
  }));
  const loadEnd = at;
  const x = take(m * nt);
  const rope = take(nt * m);
  const inputEnd = at;
  const xb = take(m * nt);
  const q = take(m * nt);
  const h1 = take(mh * nt);
  const ssPart = take(nt);
  const ssTotal = take(nt);
  const kAll = take(P * m * nt);
  const vAll = take(P * m * nt);
  const kvWords = config.nLayers * 2 * m * nt;
  const edge = take(P * kvWords);
  const layer: LayerLayout[] = weights.map((wl) => ({ k: take(m * nt), v: take(m * nt), ...wl }));
  const aMax = Math.max(m * m, mh * m, mv * m);
  const bMax = Math.max(m, mh) * nt;
  const cMax = Math.max(m, mh, mv) * nt;
  const a = take(aMax);
  const b = take(bMax);
  const c = take(cMax);
  const words = at;
  if (words > mesh.sramBytes / 4) {
    const need = Math.ceil((words * 4) / 1024) * 1024;
    if (base > 0) {
      throw new WafermeshError('does-not-fit', `the wafer prefill of ${T} positions needs ${(words - base) * 4} bytes per core past the decode's ${base * 4} on the ${W}x${H} mesh (${words * 4} in all) but a core has ${mesh.sramBytes}; use --sram ${need} or more, a larger mesh, or a shorter prompt`);
    }
    throw new WafermeshError('does-not-fit', `the prefill of ${T} positions needs ${words * 4} bytes per core on the ${P}x${P} block of the ${W}x${H} mesh but a core has ${mesh.sramBytes}; use a larger mesh, more SRAM or a shorter prompt`);
  }
  const sram: SramLayout = { id, loaded: { offset: base, words: loadEnd - base }, input: { offset: x, words: inputEnd - x }, x, xb, q, h1, ssPart, ssTotal, kAll, vAll, rope, rmsFinal, wcls, edge, layer, a, b, c };

  const regionTable = new Uint32Array(W * H * REGIONS);
  for (let y = 0; y < P; y++) {
    for (let xx = 0; xx < P; xx++) {
      const j = logical[xx];
      regionTable.set([a, b, c, ssPart, ssTotal, kAll + j * m * nt, vAll + j * m * nt, kAll, vAll, 0, edge], (y * W + xx) * REGIONS);
    }
  }

  // The products: C = A (M × K) · B (K × T). Their tiles sit in the scratch slots; the phases address regions 0, 1, 2.
  // The weights are resident: their A tiles are placed pre-skewed, so each alignment moves the activations (B) only.
  const g = (M: number, K: number) => compileMeshGemm(mesh, M, K, T, 0, { alignA: false });
  const gemms: Record<GemmName, MeshGemm> = {
    q: g(dimPad, dimPad),
    k: g(dimPad, dimPad),
    v: g(dimPad, dimPad),
    o: g(dimPad, dimPad),
    w1: g(config.hiddenDim, dimPad),
    w3: g(config.hiddenDim, dimPad),
    w2: g(dimPad, config.hiddenDim),
    cls: g(config.vocabSize, dimPad),
  };
  for (const [name, gm] of Object.entries(gemms)) {
    if (gm.mt * gm.kt > aMax || gm.kt * gm.nt > bMax || gm.mt * gm.nt > cMax) throw new WafermeshError('internal', `GEMM ${name}'s tiles outgrow the scratch slots`);
  }

  const phases: FabricPhase[] = [];
  const models: FabricCount[] = [];
  const colLines: Lines = { axis: 'col', lines: order.map((_, p) => p), length: P, width: W };
  const rowLines: Lines = { axis: 'row', lines: order.map((_, p) => p), length: P, width: W };
  const normPhase = (what: string) => {
    const elements = Array.from({ length: nt }, (_, t) => ({ src: { region: REGION.ssPart, offset: t }, dst: { region: REGION.ssTotal, offset: t } }));
    phases.push({ name: `prefill ${what} RMSNorm: the sums of squares allreduced along each column of the block (chain)`, rounds: lineAllreduce(colLines, 'chain', elements) });
    models.push(P > 1 ? lineAllreduceModel(W, H, colLines, 'chain', nt) : zero(W, H));
    return phases.length - 1;
  };
  const gemmPhase = {} as Record<GemmName, number>;
  const addGemm = (name: GemmName) => {
    gemmPhase[name] = phases.length;
    const gm = gemms[name];
    gm.phases.forEach((p, s) => {
      phases.push({ ...p, name: `prefill ${name}: ${p.name}` });
      models.push(gm.models[s]);
    });
  };
  const att = normPhase('attention');
  addGemm('q');
  addGemm('k');
  addGemm('v');
  // The KV gather: every core's K and V tiles to every core of its row (both ways along the row).
  const tile = m * nt;
  const gatherElements = (): LineElement[] =>
    order.flatMap((_, p) => {
      const j = logical[p];
      const els: LineElement[] = [];
      for (let w = 0; w < tile; w++) els.push({ at: p, src: { region: REGION.kOwn, offset: w }, dst: { region: REGION.kAll, offset: j * tile + w } });
      for (let w = 0; w < tile; w++) els.push({ at: p, src: { region: REGION.vOwn, offset: w }, dst: { region: REGION.vAll, offset: j * tile + w } });
      return els;
    });
  const gatherRound = lineAllgather(rowLines, gatherElements);
  const gatherPhase = phases.length;
  phases.push({ name: 'prefill KV gather: every core’s K and V tiles along its row of the block (allgather)', rounds: [gatherRound] });
  models.push(lineAllgatherModel(W, H, rowLines, () => order.flatMap((_, p) => new Array<number>(2 * tile).fill(p))));
  addGemm('o');
  const ffn = normPhase('feed-forward');
  addGemm('w1');
  addGemm('w3');
  addGemm('w2');
  const layerPhases = phases.length;
  const final = normPhase('final');
  addGemm('cls');
  // The KV cache to the west edge: round x carries the KV stores of column x's cores west along
  // their rows to column 0 (only its router takes them down the ramp), into the edge buffer's
  // slot x; column 0's own are copied into slot 0 in its core.
  const kvItem = (x: number, w: number) => {
    const l = Math.floor(w / (2 * m * nt));
    const r = w % (2 * m * nt);
    return { src: { region: REGION.whole, offset: (r < m * nt ? layer[l].k : layer[l].v) + (r % (m * nt)) }, dst: { region: REGION.edge, offset: x * kvWords + w } };
  };
  const rows = Array.from({ length: P }, (_, y) => y);
  const edgeRounds: FabricRound[] = [{ axis: 'row', locals: rows.flatMap((y) => Array.from({ length: kvWords }, (_, w) => ({ core: y * W, ...kvItem(0, w) }))), streams: [] }];
  for (let x = 1; x < P; x++) {
    edgeRounds.push({
      axis: 'row',
      locals: [],
      streams: rows.map((y) => ({ axis: 'row', line: y, flow: 'west', first: x, ramps: [x, 0], items: Array.from({ length: kvWords }, (_, w) => ({ kind: 'bcast' as const, origin: x, end: 0, ...kvItem(x, w) })) })),
    });
  }
  const edgePhase = phases.length;
  phases.push({ name: 'prefill KV cache to the west edge: each core’s keys and values west along its row', rounds: edgeRounds });
  models.push(edgeModel(W, H, P, kvWords));
  return { mesh, config, T, P, m, mh, mv, nt, dimPad, logical, gemms, phases, models, gemmPhase, normPhase: { att, ffn, final }, gatherPhase, edgePhase, kvWords, layerPhases, sram, regionTable, words, base };
}

/**
 * Closed form of the move to the west edge: in round x (1 … P − 1) every row of the block sends n
 * words from column x to column 0, so the west link leaving column p carries n words in each round
 * x ≥ p; a round's last word leaves at step n − 1 and arrives x hops later; each word is taken down
 * one ramp (column 0's).
 */
export function edgeModel(W: number, H: number, P: number, n: number): FabricCount {
  const linkWords = new Float64Array(W * H * 4);
  let steps = 0;
  for (let x = 1; x < P; x++) {
    for (let y = 0; y < P; y++) for (let p = 1; p <= x; p++) linkWords[(y * W + p) * 4 + DIR.west] += n;
    steps += n > 0 ? n + x : 0;
  }
  return { steps, linkWords, rampWords: P * (P - 1) * n, flops: 0 };
}

const zero = (W: number, H: number): FabricCount => ({ steps: 0, linkWords: new Float64Array(W * H * 4), rampWords: 0, flops: 0 });

/**
 * The modelled count of a whole prefill per phase: a layer's phases run n_layers times (their words
 * per link, ramp words and adds add up; their steps are one run's, as the fabric's counter keeps
 * each round's last step), the final ones once.
 */
export function prefillModel(plan: PrefillPlan): FabricCount[] {
  const L = plan.config.nLayers;
  return plan.models.map((m, p) => (p < plan.layerPhases ? { steps: m.steps, linkWords: m.linkWords.map((w) => w * L), rampWords: m.rampWords * L, flops: m.flops * L } : m));
}

/**
 * Element (r, k) of a layer's weight as the prefill multiplies it: padded to D' rows / columns for
 * the features, K and V expanded to the query heads.
 */
export function paddedWeight(plan: PrefillPlan, w: Weights, name: GemmName, layer: number): (r: number, k: number) => number {
  const c = plan.config;
  const dim = c.dim;
  const hid = c.hiddenDim;
  const hs = headSize(c);
  const kvd = kvDim(c);
  const kvMul = c.nHeads / c.nKvHeads;
  const inDim = (r: number) => r < dim;
  switch (name) {
    case 'q':
    case 'o': {
      const t = name === 'q' ? w.wq : w.wo;
      const off = layer * dim * dim;
      return (r, k) => (inDim(r) && inDim(k) ? t[off + r * dim + k] : 0);
    }
    case 'k':
    case 'v': {
      const t = name === 'k' ? w.wk : w.wv;
      const off = layer * kvd * dim;
      // Query head h's row e reads KV head ⌊h/kvMul⌋'s row e.
      return (r, k) => (inDim(r) && inDim(k) ? t[off + (Math.floor(Math.floor(r / hs) / kvMul) * hs + (r % hs)) * dim + k] : 0);
    }
    case 'w1':
    case 'w3': {
      const t = name === 'w1' ? w.w1 : w.w3;
      const off = layer * hid * dim;
      return (r, k) => (inDim(k) ? t[off + r * dim + k] : 0);
    }
    case 'w2': {
      const off = layer * dim * hid;
      return (r, k) => (inDim(r) ? w.w2[off + r * hid + k] : 0);
    }
    case 'cls':
      return (r, k) => (inDim(k) ? w.wcls[r * dim + k] : 0);
  }
}

/**
 * What each core of the block holds, loaded with the model: its logical place, the weights' A tiles
 * (placed pre-skewed), the RMSNorm weights of its rows. (P·P cores in row-major block order,
 * sram.loaded.words) f32, word k at sram.loaded.offset + k of the core.
 */
export function prefillLoad(plan: PrefillPlan, w: Weights): Float32Array {
  const { config: c, P, m, sram, logical, gemms } = plan;
  const n = sram.loaded.words;
  const o = sram.loaded.offset;
  const out = new Float32Array(P * P * n);
  const dim = c.dim;
  const weights = Array.from({ length: c.nLayers }, (_, l) => LAYER_GEMMS.map((name) => [name, paddedWeight(plan, w, name, l)] as const));
  const cls = paddedWeight(plan, w, 'cls', 0);
  // Core (i, j) holds A(i, i + j mod P): Cannon's alignment of A done once, at load.
  const putTile = (at: number, g: MeshGemm, i: number, j: number, f: (r: number, k: number) => number) => {
    const jj = (i + j) % P;
    for (let r = 0; r < g.mt; r++) {
      for (let k = 0; k < g.kt; k++) {
        const R = i * g.mt + r;
        const K = jj * g.kt + k;
        if (R < g.M && K < g.K) out[at + r * g.kt + k] = f(R, K);
      }
    }
  };
  for (let y = 0; y < P; y++) {
    for (let x = 0; x < P; x++) {
      const i = logical[y];
      const j = logical[x];
      const base = (y * P + x) * n - o;
      out[base + sram.id] = i;
      out[base + sram.id + 1] = j;
      for (let r = 0; r < m; r++) {
        const d = i * m + r;
        if (d >= dim) continue;
        out[base + sram.rmsFinal + r] = w.rmsFinal[d];
        for (let l = 0; l < c.nLayers; l++) {
          out[base + sram.layer[l].rmsAtt + r] = w.rmsAtt[l * dim + d];
          out[base + sram.layer[l].rmsFfn + r] = w.rmsFfn[l * dim + d];
        }
      }
      for (let l = 0; l < c.nLayers; l++) for (const [name, f] of weights[l]) putTile(base + sram.layer[l].w[name], gemms[name], i, j, f);
      putTile(base + sram.wcls, gemms.cls, i, j, cls);
    }
  }
  return out;
}

/**
 * The prompt's input, placed by the host per prompt as a product's B is: X — the prompt's
 * embeddings, zero past the prompt — and RoPE's cos/sin for the core's (position, pair)s.
 * (P·P cores in row-major block order, sram.input.words) f32, word k at sram.input.offset + k.
 */
export function prefillInput(plan: PrefillPlan, w: Weights, tokens: readonly number[]): Float32Array {
  const { config: c, P, m, nt, sram, logical } = plan;
  if (tokens.length !== plan.T) throw new WafermeshError('bad-prompt', `the plan is for ${plan.T} positions, not ${tokens.length}`);
  const n = sram.input.words;
  const out = new Float32Array(P * P * n);
  const dim = c.dim;
  const hs = headSize(c);
  for (let y = 0; y < P; y++) {
    for (let x = 0; x < P; x++) {
      const i = logical[y];
      const j = logical[x];
      const base = (y * P + x) * n - sram.input.offset;
      for (let r = 0; r < m; r++) {
        const d = i * m + r;
        for (let t = 0; t < nt; t++) {
          const pos = j * nt + t;
          if (d < dim && pos < plan.T) out[base + sram.x + r * nt + t] = w.tokenEmbedding[tokens[pos] * dim + d];
        }
      }
      for (let t = 0; t < nt; t++) {
        for (let p = 0; p < m / 2; p++) {
          const a = ropeAngle(j * nt + t, i * m + 2 * p, hs);
          out[base + sram.rope + (t * (m / 2) + p) * 2] = Math.cos(a);
          out[base + sram.rope + (t * (m / 2) + p) * 2 + 1] = Math.sin(a);
        }
      }
    }
  }
  return out;
}

/**
 * The SRAM image of the block before the prefill (a mesh of its own): per core what prefillLoad
 * and prefillInput place. (cores, SRAM) f32.
 */
export function prefillImage(plan: PrefillPlan, w: Weights, tokens: readonly number[]): Float32Array {
  const { mesh, P, sram } = plan;
  const W = mesh.width;
  const SRAM = mesh.sramBytes / 4;
  const image = new Float32Array(W * mesh.height * SRAM);
  const load = prefillLoad(plan, w);
  const input = prefillInput(plan, w, tokens);
  for (let y = 0; y < P; y++) {
    for (let x = 0; x < P; x++) {
      const k = y * P + x;
      const base = (y * W + x) * SRAM;
      image.set(load.subarray(k * sram.loaded.words, (k + 1) * sram.loaded.words), base + sram.loaded.offset);
      image.set(input.subarray(k * sram.input.words, (k + 1) * sram.input.words), base + sram.input.offset);
    }
  }
  return image;
}

/**
 * The KV cache from the prefill's layout to the decode's, on one wafer: after the prefill's move
 * to the west edge, core (y, 0) of the block holds its row's KV stores (heads ℓ(y)·m … , every
 * position, every layer). Each hand-off 'in' phase (compileKvHandoff) lands a slot's words in the
 * edge cores' scratch and carries them east to their owners; here a re-layout phase before it fills
 * that landing zone from the edge buffers instead of the host: every landing word comes from the
 * edge buffer of the block row holding its head, along column 0 (a stream from row y to row r whose
 * routers take it down at r only; a row's own words are local copies). Streams whose links do not
 * meet share a round.
 */
export interface KvRelayout {
  /** The phases in order: re-layout 0, hand-off in 0, re-layout 1, hand-off in 1, … */
  readonly phases: readonly FabricPhase[];
  /** The closed-form count of each phase (the hand-off's own model for its phases). */
  readonly models: readonly FabricCount[];
  /** Which of `phases` are re-layout phases (the others are the hand-off's). */
  readonly relayout: readonly boolean[];
  /** Regions: the hand-off's landing zone and KV cache, then the whole SRAM (base 0). */
  readonly regionTable: Uint32Array;
  readonly regionCount: number;
  /** Words the re-layout phases put in the landing zones (every landed word once). */
  readonly words: number;
  /** The re-layout phases' cycles at the mesh's preset (the hand-off's own are its `fabricCycles`). */
  readonly cycles: number;
}

export function compileKvRelayout(plan: PrefillPlan, h: KvHandoff): KvRelayout {
  const { mesh, config: c, P, m, nt, logical, kvWords, sram } = plan;
  const W = mesh.width;
  const H = mesh.height;
  if (h.positions !== plan.T) throw new WafermeshError('internal', `the hand-off is for ${h.positions} positions, the prefill for ${plan.T}`);
  if (h.program.mesh.width !== W || h.program.mesh.height !== H) throw new WafermeshError('internal', 'the hand-off and the prefill are for different meshes');
  const WHOLE = h.regions.length;
  const regionCount = WHOLE + 1;
  const regionTable = new Uint32Array(W * H * regionCount);
  for (let core = 0; core < W * H; core++) regionTable.set(h.regionTable.subarray(core * WHOLE, (core + 1) * WHOLE), core * regionCount);
  const order = ringOrder(P); // physical position of logical index
  const hs = headSize(c);
  const kvd = kvDim(c);
  const kvMul = c.nHeads / c.nKvHeads;
  const L = c.nLayers;
  const T = plan.T;
  /** Where a packed hand-off source sits after the move to the west edge: block row and word. */
  const sourceOf = (s: number) => {
    const coord = s % kvd;
    let rest = Math.floor(s / kvd);
    const pos = rest % T;
    rest = Math.floor(rest / T);
    const l = rest % L;
    const kind = Math.floor(rest / L);
    const d = Math.floor(coord / hs) * kvMul * hs + (coord % hs);
    const i = Math.floor(d / m);
    const r = d % m;
    const x = order[Math.floor(pos / nt)];
    return { row: order[i], word: sram.edge + x * kvWords + l * 2 * m * nt + kind * m * nt + r * nt + (pos % nt) };
  };
  const phases: FabricPhase[] = [];
  const models: FabricCount[] = [];
  const relayout: boolean[] = [];
  let words = 0;
  h.phases.forEach((hp, k) => {
    const locals: LocalCopy[] = [];
    const pairs = new Map<string, { from: number; to: number; items: StreamItem[] }>();
    for (const l of hp.landings) {
      l.sources.forEach((s, i) => {
        const src = sourceOf(s);
        const a = { src: { region: WHOLE, offset: src.word }, dst: { region: 0, offset: i } };
        words++;
        if (src.row === l.row) {
          locals.push({ core: l.row * W, ...a });
          return;
        }
        const key = `${src.row}>${l.row}`;
        if (!pairs.has(key)) pairs.set(key, { from: src.row, to: l.row, items: [] });
        pairs.get(key)!.items.push({ kind: 'bcast', origin: src.row, end: l.row, ...a });
      });
    }
    // Rounds: a stream goes in the first round where its links are free (one writer and one reader
    // per link register and flow, as checkRound asks).
    const rounds: { used: Set<string>; streams: FabricStream[] }[] = [];
    const linkWords = new Float64Array(W * H * 4);
    let rampWords = 0;
    for (const { from, to, items } of pairs.values()) {
      const flow = to > from ? 'south' : 'north';
      const keys: string[] = [];
      const lo = Math.min(from, to);
      const hi = Math.max(from, to);
      for (let p = lo; p <= hi; p++) {
        if (p !== to) keys.push(`${flow}:${p}:out`);
        if (p !== from) keys.push(`${flow}:${p}:in`);
      }
      let round = rounds.find((r) => keys.every((key) => !r.used.has(key)));
      if (!round) rounds.push((round = { used: new Set(), streams: [] }));
      keys.forEach((key) => round!.used.add(key));
      round.streams.push({ axis: 'col', line: 0, flow, first: from, ramps: [from, to], items });
      // Closed form: each of the |to − from| links between them carries every word once; only `to` takes them down.
      for (let p = from; p !== to; p += flow === 'south' ? 1 : -1) linkWords[p * W * 4 + (flow === 'south' ? DIR.south : DIR.north)] += items.length;
      rampWords += items.length;
    }
    // A round takes its longest stream's words plus its hops (the last word's arrival).
    const steps = rounds.reduce((n, r) => n + Math.max(...r.streams.map((s) => s.items.length + Math.abs(s.items[0].end - s.items[0].origin))), 0);
    const fabricRounds: FabricRound[] = rounds.map((r, i) => ({ axis: 'col', locals: i === 0 ? locals : [], streams: r.streams }));
    if (!fabricRounds.length) fabricRounds.push({ axis: 'col', locals, streams: [] });
    phases.push({ name: `KV re-layout ${k}: the west edge's KV stores along column 0 into the landing zones of ${hp.phase.name.replace(/^KV hand-off in: /, '')}`, rounds: fabricRounds });
    models.push({ steps, linkWords, rampWords, flops: 0 });
    relayout.push(true);
    phases.push(hp.phase);
    models.push(hp.model);
    relayout.push(false);
  });
  const timing = { hop: plan.mesh.cyclesPerHop, ramp: plan.mesh.cyclesPerRamp, bw: plan.mesh.wordsPerLinkCycle };
  const cycles = phases.reduce((n, p, i) => n + (relayout[i] ? phaseCycles(plan.mesh.height, p, 0, -1, timing).cycles : 0), 0);
  return { phases, models, relayout, regionTable, regionCount, words, cycles };
}
