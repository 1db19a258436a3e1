import { WafermeshError } from '../../errors.ts';
import { headSize, kvDim, type ModelConfig } from '../../model/config.ts';
import { ropeAngle } from '../../model/ops.ts';
import type { Weights } from '../../model/weights.ts';
import { DIR, lineAllgather, lineAllgatherModel, lineAllreduce, lineAllreduceModel, type LineElement, type Lines } from '../collectives.ts';
import type { MeshConfig } from '../config.ts';
import type { FabricCount, FabricPhase, FabricRound } from '../fabric.ts';
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
 * west along its row to the edge column, where it leaves for the decode's layout (the hand-off's
 * 'in' phases carry it from the decode's west edge to its owners).
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
  /** Words each core of the block needs. */
  readonly words: number;
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
  /** Words 0, 1: the core's logical row and column. */
  readonly id: number;
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

/** Compiles the prefill of a T-position prompt for `config` on `mesh`; refuses what does not fit in one line. */
export function compilePrefill(mesh: MeshConfig, config: ModelConfig, T: number): PrefillPlan {
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

  // SRAM layout.
  let at = 2;
  const take = (n: number) => {
    const o = at;
    at += n;
    return o;
  };
  const x = take(m * nt);
  const xb = take(m * nt);
  const q = take(m * nt);
  const h1 = take(mh * nt);
  const ssPart = take(nt);
  const ssTotal = take(nt);
  const kAll = take(P * m * nt);
  const vAll = take(P * m * nt);
  const rope = take(nt * m);
  const rmsFinal = take(m);
  const wcls = take(mv * m);
  const kvWords = config.nLayers * 2 * m * nt;
  const edge = take(P * kvWords);
  const layer: LayerLayout[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const k = take(m * nt);
    const v = take(m * nt);
    const rmsAtt = take(m);
    const rmsFfn = take(m);
    const w = { q: take(m * m), k: take(m * m), v: take(m * m), o: take(m * m), w1: take(mh * m), w3: take(mh * m), w2: take(m * mh) };
    layer.push({ k, v, rmsAtt, rmsFfn, w });
  }
  const aMax = Math.max(m * m, mh * m, mv * m);
  const bMax = Math.max(m, mh) * nt;
  const cMax = Math.max(m, mh, mv) * nt;
  const a = take(aMax);
  const b = take(bMax);
  const c = take(cMax);
  const words = at;
  if (words > mesh.sramBytes / 4) {
    throw new WafermeshError('does-not-fit', `the prefill of ${T} positions needs ${words * 4} bytes per core on the ${P}x${P} block of the ${W}x${H} mesh but a core has ${mesh.sramBytes}; use a larger mesh, more SRAM or a shorter prompt`);
  }
  const sram: SramLayout = { id: 0, x, xb, q, h1, ssPart, ssTotal, kAll, vAll, rope, rmsFinal, wcls, edge, layer, a, b, c };

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
  return { mesh, config, T, P, m, mh, mv, nt, dimPad, logical, gemms, phases, models, gemmPhase, normPhase: { att, ffn, final }, gatherPhase, edgePhase, kvWords, layerPhases, sram, regionTable, words };
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
 * The SRAM image of the block before the prefill: per core its logical place, the weights' A tiles,
 * the RMSNorm weights of its rows, RoPE's cos/sin for its (position, pair)s, and X — the prompt's
 * embeddings (the input, placed by the host as a product's B is). (cores, SRAM) f32.
 */
export function prefillImage(plan: PrefillPlan, w: Weights, tokens: readonly number[]): Float32Array {
  const { mesh, config: c, P, m, nt, sram, logical, gemms } = plan;
  if (tokens.length !== plan.T) throw new WafermeshError('bad-prompt', `the plan is for ${plan.T} positions, not ${tokens.length}`);
  const W = mesh.width;
  const SRAM = mesh.sramBytes / 4;
  const image = new Float32Array(W * mesh.height * SRAM);
  const dim = c.dim;
  const hs = headSize(c);
  const layerWeights = (l: number) => LAYER_GEMMS.map((n) => [n, paddedWeight(plan, w, n, l)] as const);
  const weights = Array.from({ length: c.nLayers }, (_, l) => layerWeights(l));
  const cls = paddedWeight(plan, w, 'cls', 0);
  // Core (i, j) holds A(i, i + j mod P): Cannon's alignment of A done once, at load.
  const putTile = (at: number, g: MeshGemm, i: number, j: number, f: (r: number, k: number) => number) => {
    const jj = (i + j) % P;
    for (let r = 0; r < g.mt; r++) {
      for (let k = 0; k < g.kt; k++) {
        const R = i * g.mt + r;
        const K = jj * g.kt + k;
        if (R < g.M && K < g.K) image[at + r * g.kt + k] = f(R, K);
      }
    }
  };
  for (let y = 0; y < P; y++) {
    for (let x = 0; x < P; x++) {
      const i = logical[y];
      const j = logical[x];
      const base = (y * W + x) * SRAM;
      image[base] = i;
      image[base + 1] = j;
      for (let r = 0; r < m; r++) {
        const d = i * m + r;
        for (let t = 0; t < nt; t++) {
          const pos = j * nt + t;
          if (d < dim && pos < plan.T) image[base + sram.x + r * nt + t] = w.tokenEmbedding[tokens[pos] * dim + d];
        }
        if (d < dim) image[base + sram.rmsFinal + r] = w.rmsFinal[d];
        for (let l = 0; l < c.nLayers; l++) {
          if (d < dim) {
            image[base + sram.layer[l].rmsAtt + r] = w.rmsAtt[l * dim + d];
            image[base + sram.layer[l].rmsFfn + r] = w.rmsFfn[l * dim + d];
          }
        }
      }
      for (let t = 0; t < nt; t++) {
        for (let p = 0; p < m / 2; p++) {
          const a = ropeAngle(j * nt + t, i * m + 2 * p, hs);
          image[base + sram.rope + (t * (m / 2) + p) * 2] = Math.cos(a);
          image[base + sram.rope + (t * (m / 2) + p) * 2 + 1] = Math.sin(a);
        }
      }
      for (let l = 0; l < c.nLayers; l++) for (const [n, f] of weights[l]) putTile(base + sram.layer[l].w[n], gemms[n], i, j, f);
      putTile(base + sram.wcls, gemms.cls, i, j, cls);
    }
  }
  return image;
}
