import { WafermeshError } from '../errors.ts';
import { makeMesh, type MeshConfig } from '../mesh/config.ts';
import { add, fabricTokenCycles, times, tokenParts, ZERO, type ClosedCost, type FabricTokenCost } from '../mesh/fabric-closed.ts';
import { fitRegion, handoffCost, idReturnCost, type RegionFit } from '../mesh/regions.ts';
import { makeConfig, type ModelConfig } from '../model/config.ts';

/**
 * The placement search: where a model's layers go on one or more wafers, and what each choice
 * costs per token in the fabric's cost model (modelled, not measured).
 *
 * - `whole`: every layer of a wafer tiled over the whole wafer (src/mesh/placement.ts).
 * - `subgrid`: the same tiling on a smaller block of W × H cores (square or not): shorter rows
 *   and columns to reduce and gather along, more words per core.
 * - `pipelined`: each group of G consecutive layers tiled over a block of its own; the blocks are
 *   a grid of equal regions on each wafer, visited in snake order (down the first column of
 *   regions, up the next, …) so consecutive regions share an edge, and the activation moves from
 *   one to the next over the fabric (`handoffCost`). The embedding table and the classifier sit
 *   either in the first and last layer groups' regions or in regions of their own; the next
 *   token's id returns from the last region to the first (`idReturnCost`).
 *
 * Every region of a placement has the same size, so its steps cost what `fabricTokenCycles` says
 * for that mesh: front (the embedding) + layers × one layer + head (norm, classifier, id), plus
 * the hand-offs. Wafers run one after another (one token in flight at batch 1), with a hand-off
 * between wafers (the caller adds the catalog's wafer-to-wafer time). A placement fits when every
 * region's fullest core holds its weights, scratch and KV cache for the context asked for.
 */

export type PlacementKind = 'whole' | 'subgrid' | 'pipelined';

/** What `--placement` asks for: a kind, and for `pipelined` optionally G layers per region. */
export interface PlacementRequest {
  readonly kind: PlacementKind;
  readonly layersPerRegion?: number;
}

/** `whole`, `subgrid`, `pipelined` or `pipelined:G`. */
export function parsePlacement(s: string): PlacementRequest {
  const m = /^(whole|subgrid|pipelined)(?::(\d+))?$/.exec(s.trim());
  if (!m || (m[2] !== undefined && m[1] !== 'pipelined')) {
    throw new WafermeshError('bad-option', `--placement "${s}" is not whole, subgrid, pipelined or pipelined:G (G layers per region, e.g. pipelined:2)`);
  }
  const g = m[2] === undefined ? undefined : Number(m[2]);
  if (g !== undefined && g < 1) throw new WafermeshError('bad-option', `--placement ${s}: G must be a whole number of layers, 1 or more`);
  return { kind: m[1] as PlacementKind, ...(g !== undefined ? { layersPerRegion: g } : {}) };
}

/** One region's contents on one wafer, in order. */
interface Stage {
  readonly layers: number;
  readonly tables: 0 | 1 | 2;
}

/** One placement tried: where it puts things, whether it fits, what a token costs (modelled). */
export interface PlacementOption {
  readonly kind: PlacementKind;
  /** e.g. "whole 762x1172", "subgrid 300x1172", "pipelined G=2: 18 regions of 95x293 (8x4 grid), tables in own regions". */
  readonly label: string;
  /** The cores one region (or the whole placement's block) spans on each wafer. */
  readonly region: { readonly width: number; readonly height: number };
  /** Pipelined: regions across and down each wafer. */
  readonly grid?: { readonly across: number; readonly down: number };
  /** Layers tiled over one region (pipelined: G; otherwise the wafer's layers). */
  readonly layers_per_region: number;
  /** Pipelined: where the embedding and classifier sit. */
  readonly tables?: 'with the first and last layers' | 'own regions';
  /** Regions used on the fullest wafer. */
  readonly regions_per_wafer: number;
  readonly fits: boolean;
  /** The fullest core of the fullest region: bytes it needs and has. */
  readonly fullest_core_bytes: number;
  readonly sram_bytes: number;
  /** When it does not fit: what overflows, in bytes. */
  readonly why?: string;
  /** Modelled cycles of one token on the fabric (every wafer's, added), when it fits. */
  readonly cycles?: number;
  /** Modelled: the activation's hand-offs between regions on the wafers, and the id's return. */
  readonly handoffs?: { readonly count: number; readonly cycles: number };
}

export interface SearchInput {
  readonly model: ModelConfig;
  /** The whole wafer's fabric, with the FLOPs per cycle of the precision. */
  readonly wafer: MeshConfig;
  readonly chips: number;
  readonly context: number;
  readonly valueBytes: number;
  readonly algorithm: 'chain' | 'ring' | 'ktree';
  /** Only this block (whole-wafer tiling on it): `--cores`. */
  readonly fixedRegion?: { readonly width: number; readonly height: number };
  readonly request?: PlacementRequest;
}

/** A placement tried, with its cost in parts (internal to predict). */
export interface Evaluated {
  readonly option: PlacementOption;
  /** The token's modelled cost over every wafer's fabric (no wafer-to-wafer time), when it fits. */
  readonly cost?: ClosedCost;
  readonly region: MeshConfig;
  /** The closed form of one layer (and the embedding and head) on the region, when it fits. */
  readonly token?: FabricTokenCost;
}

export interface SearchResult {
  readonly best?: Evaluated;
  /** Every placement tried: those that fit from the fastest, then those that do not from the nearest miss. */
  readonly tried: Evaluated[];
}

/** Layers on each wafer: ⌈L / chips⌉ each, the last ones fewer. */
export function layersPerWafer(nLayers: number, chips: number): number[] {
  const per = Math.ceil(nLayers / chips);
  return Array.from({ length: chips }, (_, i) => Math.max(0, Math.min(per, nLayers - i * per)));
}

/** A region's place in the snake order over a grid `across` × `down`: its column and row of regions. */
export function snake(k: number, down: number): { col: number; row: number } {
  const col = Math.floor(k / down);
  const q = k % down;
  return { col, row: col % 2 === 0 ? q : down - 1 - q };
}

const memo = new Map<string, SearchResult>();

/** Every placement of the kinds asked for, tried and costed (the same input gives the same answer, so it is kept). */
export function searchPlacements(input: SearchInput): SearchResult {
  const key = JSON.stringify(input);
  const known = memo.get(key);
  if (known) return known;
  const r = search(input);
  if (memo.size > 64) memo.clear();
  memo.set(key, r);
  return r;
}

/**
 * Whether every wafer of `chips` holds its layers tiled over the whole wafer (the first with the
 * embedding, the last with the classifier) with a `context`-position KV cache.
 */
export function wholeWaferFits(model: ModelConfig, wafer: MeshConfig, chips: number, context: number, valueBytes: number): boolean {
  const n = layersPerWafer(model.nLayers, chips).filter((x) => x > 0);
  return n.every((layers, i) => {
    const tables = (i === 0 ? 1 : 0) + (i === n.length - 1 ? 1 : 0);
    return fitRegion(model, wafer, { layers, tables: (model.sharedClassifier && tables === 2 ? 1 : tables) as 0 | 1 | 2, context, valueBytes }).fits;
  });
}

function search(input: SearchInput): SearchResult {
  const { model, wafer, chips, context, valueBytes, algorithm } = input;
  const W = wafer.width;
  const H = wafer.height;
  const pos = context - 1;
  const onWafer = layersPerWafer(model.nLayers, chips).filter((n) => n > 0);
  const shared = model.sharedClassifier;
  const meshOf = (w: number, h: number) => makeMesh({ ...wafer, width: w, height: h });

  // Fit, per (region, stage contents), cached.
  const fits = new Map<string, RegionFit>();
  const fitOf = (w: number, h: number, s: Stage) => {
    const key = `${w}x${h}:${s.layers}:${s.tables}`;
    let f = fits.get(key);
    if (!f) {
      f = fitRegion(model, meshOf(w, h), { layers: s.layers, tables: s.tables, context, valueBytes });
      fits.set(key, f);
    }
    return f;
  };
  // The closed form's parts on a region, cached: one layer stands for all (every layer is the same program).
  const parts = new Map<string, ReturnType<typeof tokenParts> & { token: FabricTokenCost }>();
  const one = makeConfig({ ...model, nLayers: 1, seqLen: Math.max(context, 1) });
  const partsOf = (w: number, h: number) => {
    const key = `${w}x${h}`;
    let p = parts.get(key);
    if (!p) {
      const token = fabricTokenCycles(one, meshOf(w, h), pos, algorithm, 1, context);
      p = { ...tokenParts(token), token };
      parts.set(key, p);
    }
    return p;
  };
  const body = (w: number, h: number) => {
    const p = partsOf(w, h);
    return add(add(p.front, times(model.nLayers, p.layer)), p.head);
  };

  /** The stages of every wafer: G layers a region, the tables with the layers or on their own. */
  const stagesOf = (G: number, own: boolean): Stage[][] =>
    onWafer.map((n, i) => {
      const first = i === 0;
      const last = i === onWafer.length - 1;
      const st: { layers: number; tables: number }[] = [];
      for (let l = 0; l < n; l += G) st.push({ layers: Math.min(G, n - l), tables: 0 });
      if (own) {
        if (first) st.unshift({ layers: 0, tables: 1 });
        if (last) st.push({ layers: 0, tables: 1 });
      } else {
        if (first) st[0].tables += 1;
        if (last) st[st.length - 1].tables += 1;
      }
      // One table serves both ends where the classifier is the embedding and one region holds both.
      return st.map((s) => ({ layers: s.layers, tables: (shared && s.tables === 2 ? 1 : s.tables) as 0 | 1 | 2 }));
    });

  /** The worst stage's fit on a region (the fullest core), or the first that does not fit. */
  const fitAll = (w: number, h: number, stages: Stage[][]) => {
    let worst: { f: RegionFit; s: Stage } | undefined;
    for (const s of stages.flat()) {
      const f = fitOf(w, h, s);
      if (!worst || (worst.f.fits && !f.fits) || (worst.f.fits === f.fits && f.needBytes > worst.f.needBytes)) worst = { f, s };
    }
    return worst!;
  };
  const whyNot = (x: { f: RegionFit; s: Stage }, w: number, h: number) =>
    `core (${x.f.row},${x.f.col}) of a ${w}x${h} region holding ${x.s.layers} layer(s)${x.s.tables ? ` and ${x.s.tables} table(s)` : ''} with a ${context}-position KV cache needs ${x.f.needBytes} of ${x.f.sramBytes} bytes`;

  const tried: Evaluated[] = [];

  /** Every layer of a wafer on one block: whole or subgrid. */
  const block = (kind: 'whole' | 'subgrid', w: number, h: number) => {
    const stages = stagesOf(Math.max(...onWafer), false);
    const x = fitAll(w, h, stages);
    const region = meshOf(w, h);
    const base = {
      kind,
      label: `${kind} ${w}x${h}`,
      region: { width: w, height: h },
      layers_per_region: Math.max(...onWafer),
      regions_per_wafer: 1,
      fits: x.f.fits,
      fullest_core_bytes: x.f.needBytes,
      sram_bytes: x.f.sramBytes,
    };
    if (!x.f.fits) return tried.push({ option: { ...base, why: whyNot(x, w, h) }, region });
    const cost = body(w, h);
    tried.push({ option: { ...base, cycles: cost.cycles, handoffs: { count: 0, cycles: 0 } }, region, cost, token: partsOf(w, h).token });
  };

  /** G layers a region on a grid of regions. */
  const pipelined = (G: number, own: boolean, across: number, down: number) => {
    const stages = stagesOf(G, own);
    const n = Math.max(...stages.map((s) => s.length));
    const w = Math.floor(W / across);
    const h = Math.floor(H / down);
    const x = fitAll(w, h, stages);
    const region = meshOf(w, h);
    const base = {
      kind: 'pipelined' as const,
      label: `pipelined G=${G}: ${n} regions of ${w}x${h} (${across}x${down} grid), tables ${own ? 'in own regions' : 'with the first and last layers'}`,
      region: { width: w, height: h },
      grid: { across, down },
      layers_per_region: G,
      tables: own ? ('own regions' as const) : ('with the first and last layers' as const),
      regions_per_wafer: n,
      fits: x.f.fits,
      fullest_core_bytes: x.f.needBytes,
      sram_bytes: x.f.sramBytes,
    };
    if (!x.f.fits) return tried.push({ option: { ...base, why: whyNot(x, w, h) }, region });
    let hand = ZERO;
    let count = 0;
    // Each hand-off, then the Σx² partials the next region needs for its norm (the previous
    // region computed them in its last residual pass): one pass like the embedding's.
    const sumsq = partsOf(w, h).token.passes.embed_sumsq;
    const vertical = add(handoffCost(model, region, 'vertical'), sumsq);
    const horizontal = add(handoffCost(model, region, 'horizontal'), sumsq);
    for (const st of stages) {
      for (let k = 0; k + 1 < st.length; k++) {
        hand = add(hand, Math.floor((k + 1) / down) !== Math.floor(k / down) ? horizontal : vertical);
        count++;
      }
    }
    // The id goes back to the first region when both are on one wafer (between wafers it is not
    // counted, as for every placement).
    if (stages.length === 1 && stages[0].length > 1) {
      const a = snake(0, down);
      const b = snake(stages[0].length - 1, down);
      hand = add(hand, idReturnCost(region, Math.abs(a.col - b.col) * w + Math.abs(a.row - b.row) * h));
      count++;
    }
    const cost = add(body(w, h), hand);
    tried.push({ option: { ...base, cycles: cost.cycles, handoffs: { count, cycles: hand.cycles } }, region, cost, token: partsOf(w, h).token });
  };

  const want = (k: PlacementKind) => !input.request || input.request.kind === k;
  if (input.fixedRegion) {
    const { width, height } = input.fixedRegion;
    block(width === W && height === H ? 'whole' : 'subgrid', width, height);
  } else {
    if (want('whole')) block('whole', W, H);
    if (want('subgrid')) {
      // Smallest fitting height for a width (fitting is monotone in the cores: more rows, fewer words a core).
      const stages = stagesOf(Math.max(...onWafer), false);
      const ok = (w: number, h: number) => fitAll(w, h, stages).f.fits;
      // Below ⌈bytes ÷ (cores × SRAM)⌉ nothing fits; gallop up from there, then bisect.
      const total = fitOf(1, 1, stages[0][0]);
      const floorCores = (total.weightBytes + total.kvBytes) / wafer.sramBytes;
      const smallest = (lo: number, hi: number, f: (v: number) => boolean, guess = lo + 1) => {
        if (!f(hi)) return undefined;
        // Nothing below the guess fits (the fullest core holds at least the average).
        let at = Math.min(hi, Math.max(lo + 1, guess));
        lo = Math.max(lo, at - 1);
        for (let step = Math.max(1, Math.ceil(at / 50)); at < hi; step *= 2) {
          if (f(at)) {
            hi = at;
            break;
          }
          lo = at;
          at = Math.min(hi, at + step);
        }
        while (hi - lo > 1) {
          const mid = (lo + hi) >> 1;
          if (f(mid)) hi = mid;
          else lo = mid;
        }
        return hi;
      };
      const sizes = new Set<string>();
      const w0 = smallest(0, W, (w) => ok(w, H), Math.ceil(floorCores / H));
      if (w0 !== undefined) {
        // Widths from the narrowest that fits to the wafer's, each with its shortest height.
        for (let k = 0; k <= 5; k++) {
          const w = Math.round(w0 * (W / w0) ** (k / 5));
          const h = smallest(0, H, (v) => ok(w, v), Math.ceil(floorCores / w));
          if (h !== undefined) sizes.add(`${w}x${h}`);
        }
        // The smallest square.
        const s = smallest(0, Math.min(W, H), (v) => ok(v, v), Math.ceil(Math.sqrt(floorCores)));
        if (s !== undefined) sizes.add(`${s}x${s}`);
      }
      sizes.delete(`${W}x${H}`);
      for (const key of sizes) {
        const [w, h] = key.split('x').map(Number);
        block('subgrid', w, h);
      }
      if (w0 === undefined && input.request?.kind === 'subgrid') block('subgrid', W, H);
    }
    if (want('pipelined')) {
      const most = Math.max(...onWafer);
      const Gs = input.request?.layersPerRegion !== undefined ? [input.request.layersPerRegion] : [...new Set(Array.from({ length: most }, (_, i) => Math.ceil(most / (i + 1))))];
      for (const G of Gs) {
        for (const own of [false, true]) {
          const n = Math.max(...stagesOf(G, own).map((s) => s.length));
          if (n < 2) continue; // one region: that is a subgrid
          // Grids with at least n regions, for each number of regions down the fewest across.
          const grids = new Map<number, number>();
          for (let down = 1; down <= Math.min(n, H); down++) {
            const across = Math.ceil(n / down);
            if (across <= W && !grids.has(across)) grids.set(across, down);
          }
          for (const [across, down] of grids) pipelined(G, own, across, down);
        }
      }
    }
  }
  const fitting = tried.filter((t) => t.cost).sort((a, b) => a.cost!.cycles - b.cost!.cycles);
  // Those that do not fit, the nearest misses first (the least SRAM short on the fullest core).
  const rest = tried.filter((t) => !t.cost).sort((a, b) => a.option.fullest_core_bytes - b.option.fullest_core_bytes);
  return { best: fitting[0], tried: [...fitting, ...rest] };
}
