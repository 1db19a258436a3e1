import { WafermeshError } from '../errors.ts';
import { parsePlacement } from '../cost/placement-search.ts';
import type { EmulatedPlacement } from './programs/decode.ts';
import { kvDim, type ModelConfig } from '../model/config.ts';
import type { Model, Weights } from '../model/weights.ts';
import type { Allreduce } from './collectives.ts';
import { makeMesh, type MeshConfig } from './config.ts';
import { place, type CorePlacement, type Placement } from './placement.ts';
import { ROLE_EMBED, ROLE_HEAD, type Pipeline, type PipelineBlock, type WaferProgram } from './program.ts';

/**
 * The layer-pipelined placement on the emulated mesh (program.ts `Pipeline`): G layers a block,
 * each block placed as a whole mesh of its size is, the blocks in snake order. What the placement
 * search (src/cost/placement-search.ts) costs as `pipelined`, here made runnable: every block also
 * lays out the embedding-sized table (and an unshared classifier) and the final norm as a whole
 * mesh does, though only the first block's embedding and the last block's head are used.
 */

/** The grid of blocks for n blocks on a W × H mesh: the one whose blocks are least thin (largest shorter side), then largest, then fewest across. */
export function pipelineGrid(n: number, W: number, H: number): { across: number; down: number; width: number; height: number } | undefined {
  let best: { across: number; down: number; width: number; height: number } | undefined;
  for (let across = 1; across <= Math.min(n, W); across++) {
    const down = Math.ceil(n / across);
    if (down > H) continue;
    // Columns of blocks are filled first (snake order): none is left empty.
    if (Math.ceil(n / down) !== across) continue;
    const width = Math.floor(W / across);
    const height = Math.floor(H / down);
    const key = (g: { width: number; height: number }) => [Math.min(g.width, g.height), g.width * g.height];
    if (!best) best = { across, down, width, height };
    else {
      const [a0, a1] = key({ width, height });
      const [b0, b1] = key(best);
      if (a0 > b0 || (a0 === b0 && a1 > b1)) best = { across, down, width, height };
    }
  }
  return best;
}

/** A block's place in the snake order over a grid with `down` blocks a column: its column and row of blocks. */
export function snakeAt(k: number, down: number): { col: number; row: number } {
  const col = Math.floor(k / down);
  const q = k % down;
  return { col, row: col % 2 === 0 ? q : down - 1 - q };
}

/** The model of layers [first, first + count): the same dimensions and tables, those layers' weights (views, no copy). */
export function stageModel(model: Model, first: number, count: number): Model {
  const m = model.config;
  const w = model.weights;
  const kvd = kvDim(m);
  const per: Record<'rmsAtt' | 'wq' | 'wk' | 'wv' | 'wo' | 'rmsFfn' | 'w1' | 'w2' | 'w3', number> = {
    rmsAtt: m.dim,
    wq: m.dim * m.dim,
    wk: kvd * m.dim,
    wv: kvd * m.dim,
    wo: m.dim * m.dim,
    rmsFfn: m.dim,
    w1: m.hiddenDim * m.dim,
    w2: m.dim * m.hiddenDim,
    w3: m.hiddenDim * m.dim,
  };
  const weights: Weights = { ...w };
  for (const [k, n] of Object.entries(per) as [keyof typeof per, number][]) weights[k] = w[k].subarray(first * n, (first + count) * n);
  return { config: stageConfig(m, count), weights, source: `${model.source} layers ${first}–${first + count - 1}` };
}

const stageConfig = (m: ModelConfig, count: number): ModelConfig => ({ ...m, nLayers: count });

/** Layers a block when `pipelined` names no G: the fewest that fit this mesh (every block's fullest core in its SRAM). */
export function smallestFittingG(model: ModelConfig, mesh: MeshConfig, algorithm: Allreduce): number {
  for (let G = 1; G <= model.nLayers; G++) {
    try {
      compilePipelinedProgram(model, mesh, algorithm, G);
      return G;
    } catch (e) {
      if (!(e instanceof WafermeshError) || (e.code !== 'does-not-fit' && e.code !== 'bad-option')) throw e;
    }
  }
  throw new WafermeshError(
    'does-not-fit',
    `no layer-pipelined placement of the ${model.nLayers}-layer model fits the ${mesh.width}x${mesh.height} mesh of ${mesh.sramBytes}-byte cores (tried G = 1…${model.nLayers} layers a block); use a larger mesh or --placement whole`,
  );
}

/** A layer-pipelined layout before it is refused or compiled: every block placed, whether or not it fits. */
export interface PipelinedLayout {
  readonly G: number;
  readonly grid: { readonly across: number; readonly down: number; readonly width: number; readonly height: number };
  readonly blocks: readonly { readonly x: number; readonly y: number; readonly layerFirst: number; readonly layerCount: number; readonly role: number; readonly placement: Placement }[];
}

/**
 * G layers a block: ⌈layers ÷ G⌉ blocks on the grid `pipelineGrid` picks, each block's layers
 * placed on it as on a mesh of its size (`place`). Refuses, in one line, a G the mesh cannot hold.
 */
export function layOutPipelined(model: ModelConfig, mesh: MeshConfig, G: number, valueBytes = 4): PipelinedLayout {
  const L = model.nLayers;
  if (!Number.isInteger(G) || G < 1) throw new WafermeshError('bad-option', `--placement pipelined:${G}: G must be a whole number of layers, 1 or more`);
  const g = Math.min(G, L);
  const n = Math.ceil(L / g);
  const grid = pipelineGrid(n, mesh.width, mesh.height);
  if (!grid) {
    throw new WafermeshError('bad-option', `--placement pipelined:${G} needs ${n} blocks but the ${mesh.width}x${mesh.height} mesh cannot hold ${n} blocks of one core or more; use a larger G or a larger mesh`);
  }
  const blockMesh = makeMesh({ ...mesh, width: grid.width, height: grid.height });
  const blocks = Array.from({ length: n }, (_, k) => {
    const first = k * g;
    const count = Math.min(g, L - first);
    const at = snakeAt(k, grid.down);
    return {
      x: at.col * grid.width,
      y: at.row * grid.height,
      layerFirst: first,
      layerCount: count,
      role: (k === 0 ? ROLE_EMBED : 0) | (k === n - 1 ? ROLE_HEAD : 0),
      placement: place(stageConfig(model, count), blockMesh, valueBytes),
    };
  });
  return { G: g, grid, blocks };
}

/** The bytes a block's fullest core needs with one KV position (what must fit its SRAM). */
export function blockNeedBytes(p: Placement): number {
  const f = p.fullest;
  return (f.weightWords + f.scratchWords - (f.slotWords - f.kvWordsPerSlot) * f.kvSlots + f.slotWords) * 4;
}

/**
 * Compiles the layer-pipelined program (`layOutPipelined`): each block its own program. The whole
 * program's placement lists every mesh core (a core outside every block holds nothing); its context
 * is the shortest block's. Refuses, in one line, a block that does not fit.
 */
export function compilePipelinedProgram(model: ModelConfig, mesh: MeshConfig, allreduce: Allreduce, G: number, valueBytes = 4): WaferProgram {
  const layout = layOutPipelined(model, mesh, G, valueBytes);
  const { grid } = layout;
  const blocks: PipelineBlock[] = layout.blocks.map((b, k) => {
    if (!b.placement.fits) {
      const f = b.placement.fullest;
      throw new WafermeshError(
        'does-not-fit',
        `--placement pipelined:${G}: block ${k} (layers ${b.layerFirst}–${b.layerFirst + b.layerCount - 1}, ${grid.width}x${grid.height} cores) does not fit: its core (${f.row},${f.col}) needs ${blockNeedBytes(b.placement)} bytes with one KV position but has ${mesh.sramBytes}; use a larger G, a larger mesh or --placement whole`,
      );
    }
    const { placement, ...where } = b;
    return { ...where, program: { model: stageConfig(model, b.layerCount), mesh: placement.mesh, placement, allreduce } };
  });
  const pipeline: Pipeline = { layersPerBlock: layout.G, width: grid.width, height: grid.height, across: grid.across, down: grid.down, blocks };
  return { model, mesh, placement: wholePlacement(model, mesh, pipeline, valueBytes), allreduce, pipeline };
}

/** Every mesh core's placement (its block's core, row and column within the block; an empty one outside every block). */
function wholePlacement(model: ModelConfig, mesh: MeshConfig, p: Pipeline, valueBytes: number): Placement {
  const W = mesh.width;
  const cores: CorePlacement[] = Array.from({ length: W * mesh.height }, (_, i) => ({
    row: Math.floor(i / W),
    col: i % W,
    regions: [],
    weightWords: 0,
    scratchWords: 0,
    kvWordsPerSlot: 0,
    kvSlots: 0,
    slotWords: 0,
    totalWords: 0,
  }));
  for (const b of p.blocks) for (const [i, cp] of b.program.placement.cores.entries()) cores[(b.y + Math.floor(i / p.width)) * W + b.x + (i % p.width)] = cp;
  const fullest = p.blocks.map((b) => b.program.placement.fullest).reduce((a, c) => (c.totalWords > a.totalWords ? c : a));
  return {
    model,
    mesh,
    context: Math.min(...p.blocks.map((b) => b.program.placement.context)),
    maxContext: Math.min(...p.blocks.map((b) => b.program.placement.maxContext)),
    cores,
    fits: p.blocks.every((b) => b.program.placement.fits),
    fullest,
    valueBytes,
  };
}

/** The block holding each mesh core and the core's index in it (undefined: outside every block). */
export function blockOfCore(program: WaferProgram): ({ block: number; local: number } | undefined)[] {
  const { mesh, pipeline: p } = program;
  const out: ({ block: number; local: number } | undefined)[] = new Array(mesh.width * mesh.height).fill(undefined);
  if (!p) return out.map((_, i) => ({ block: 0, local: i }));
  p.blocks.forEach((b, k) => {
    for (let i = 0; i < p.width * p.height; i++) out[(b.y + Math.floor(i / p.width)) * mesh.width + b.x + (i % p.width)] = { block: k, local: i };
  });
  return out;
}

/** The placement in a few words: "whole", or "pipelined:G (n blocks of wxh, a×d grid)". */
export function describePlacement(program: WaferProgram): string {
  const p = program.pipeline;
  if (!p) return 'whole';
  return `pipelined:${p.layersPerBlock} (${p.blocks.length} block${p.blocks.length > 1 ? 's' : ''} of ${p.width}x${p.height}, a ${p.across}x${p.down} grid)`;
}

/** A `--placement` value for the emulated mesh (absent: whole): whole or pipelined[:G]; predict's other kinds are refused in one line. */
export function emulatedPlacement(v: string | undefined): EmulatedPlacement {
  if (v === undefined) return { kind: 'whole' };
  const r = parsePlacement(v);
  if (r.kind === 'subgrid') {
    throw new WafermeshError('bad-option', `--placement ${v}: the emulated mesh runs whole or pipelined[:G] (subgrid is costed by \`wafermesh predict\` only); use one of those`);
  }
  return r.kind === 'whole' ? { kind: 'whole' } : { kind: 'pipelined', ...(r.layersPerRegion !== undefined ? { layersPerBlock: r.layersPerRegion } : {}) };
}
