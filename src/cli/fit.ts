import { fitSummary } from '../mesh/fit.ts';
import type { Placement } from '../mesh/placement.ts';
import { describeConfig } from '../model/config.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { loadConfig } from './load.ts';
import type { Command } from './command.ts';
import { CHOICES, MESH_CHOICES, MESH_OPTIONS, meshOption, placementOption } from './options.ts';
import type { MeshConfig } from '../mesh/config.ts';
import type { ModelConfig } from '../model/config.ts';
import { blockNeedBytes, layOutPipelined, smallestFittingG } from '../mesh/pipelined.ts';
import { DEFAULT_ALLREDUCE } from '../mesh/collectives.ts';
import { WafermeshError } from '../errors.ts';

/**
 * One character per core, or per block of cores on big meshes (the fullest core of the block):
 * its SRAM fill in tenths (0–9), '#' when over capacity. At most 64 × 32 characters.
 */
export function occupancyMap(p: Placement): { lines: string[]; block: [number, number] } {
  const sramWords = p.mesh.sramBytes / 4;
  const bw = Math.ceil(p.mesh.width / 64);
  const bh = Math.ceil(p.mesh.height / 32);
  const lines: string[] = [];
  for (let r0 = 0; r0 < p.mesh.height; r0 += bh) {
    let s = '';
    for (let c0 = 0; c0 < p.mesh.width; c0 += bw) {
      let f = 0;
      for (let r = r0; r < Math.min(r0 + bh, p.mesh.height); r++) {
        for (let c = c0; c < Math.min(c0 + bw, p.mesh.width); c++) f = Math.max(f, p.cores[r * p.mesh.width + c].totalWords / sramWords);
      }
      s += f > 1 ? '#' : String(Math.min(9, Math.floor(f * 10)));
    }
    lines.push(s);
  }
  return { lines, block: [bw, bh] };
}

export const fitCommand: Command = {
  summary: 'place a model on a mesh: SRAM occupancy per core, the fullest core, the longest context, whether it fits',
  usage: '[--model PATH|NAME] [--mesh WxH] [--preset NAME] [--sram BYTES] [--placement whole|pipelined[:G]] [--json]',
  options: {
    model: { type: 'string', default: DEFAULT_MODEL },
    ...MESH_OPTIONS,
    placement: { type: 'string' },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, ...MESH_CHOICES },
  descriptions: {
    model: 'the model: a name below (shapes known without weights too), a llama2.c checkpoint PATH, or random:<spec>',
    mesh: 'the wafer: WIDTHxHEIGHT cores, e.g. 8x8 (up to 2048 a side)',
    preset: 'the wafer core (SRAM per core, clock)',
    sram: 'SRAM bytes per core, overriding the preset (a multiple of 4)',
    placement: 'whole (every layer tiled over the whole mesh, the default) or pipelined[:G] (G layers a block of the mesh, the blocks in snake order; without G the fewest that fit): each block\'s layers and fullest core',
    json: 'print one JSON object (the fit and the occupancy map) instead of text',
  },
  async run(v) {
    const model = loadConfig(String(v.model));
    const mesh = meshOption(v);
    const layout = placementOption(v.placement);
    if (layout.kind === 'pipelined') return fitPipelined(model.source, model.config, mesh, String(v.preset), layout.layersPerBlock, !!v.json);
    const fit = fitSummary(model.config, mesh);
    const p = fit.placement;
    const bigger = fit.smallestFittingMesh;
    const f = fit.fullest;
    const summary = {
      model: model.source,
      mesh: `${mesh.width}x${mesh.height}`,
      sram_bytes: mesh.sramBytes,
      fits: fit.fits,
      context: fit.context,
      seq_len: model.config.seqLen,
      max_context: fit.maxContext,
      fullest_core: { row: f.row, col: f.col, bytes: f.bytes, weight_bytes: f.weightBytes, scratch_bytes: f.scratchBytes, kv_bytes: f.kvBytes },
      total_weight_bytes: fit.totalWeightBytes,
      smallest_fitting_mesh: bigger ? `${bigger.width}x${bigger.height}` : null,
    };
    if (v.json) {
      console.log(JSON.stringify({ ...summary, occupancy: occupancyMap(p).lines }));
      return p.fits ? 0 : 1;
    }
    console.log(`model   ${model.source}: ${describeConfig(model.config)}`);
    console.log(`mesh    ${summary.mesh} cores of ${mesh.sramBytes} bytes (${v.preset})`);
    const map = occupancyMap(p);
    const per = map.block[0] * map.block[1] > 1 ? `block of ${map.block[0]}x${map.block[1]} cores (its fullest core)` : 'core';
    console.log(`SRAM fill per ${per}, in tenths (# = over capacity):`);
    for (const line of map.lines) console.log(`  ${line}`);
    console.log(
      `fullest core (${f.row},${f.col}): ${summary.fullest_core.bytes} of ${mesh.sramBytes} bytes ` +
        `(weights ${summary.fullest_core.weight_bytes}, scratch ${summary.fullest_core.scratch_bytes}, KV cache ${summary.fullest_core.kv_bytes})`,
    );
    if (p.fits) {
      console.log(`longest context the KV cache allows: ${summary.max_context ?? 'unbounded'} positions (model seq_len ${model.config.seqLen}; using ${p.context})`);
      console.log(`fits: yes${p.context < model.config.seqLen ? `, with the context cut to ${p.context}` : ''}`);
    } else {
      console.log('fits: no');
    }
    if (bigger) console.log(`smallest mesh of this aspect that fits with the full context: ${bigger.width}x${bigger.height}`);
    return p.fits ? 0 : 1;
  },
};

/**
 * `fit --placement pipelined[:G]`: the blocks, each with its layers, its place on the mesh, its
 * fullest core (bytes with its KV cache, and with one position) and the context it holds; the
 * occupancy map of the whole mesh ('.' for a core outside every block).
 */
function fitPipelined(source: string, model: ModelConfig, mesh: MeshConfig, preset: string, G: number | undefined, json: boolean): number {
  let g = G;
  if (g === undefined) {
    try {
      g = smallestFittingG(model, mesh, DEFAULT_ALLREDUCE);
    } catch (e) {
      // None fits: show the blocks of one layer each (or the fewest the mesh holds), which say why.
      if (!(e instanceof WafermeshError)) throw e;
      g = Math.max(1, Math.ceil(model.nLayers / (mesh.width * mesh.height)));
    }
  }
  const layout = layOutPipelined(model, mesh, g);
  const sram = mesh.sramBytes;
  const blocks = layout.blocks.map((b, k) => {
    const f = b.placement.fullest;
    return {
      block: k,
      layers: [b.layerFirst, b.layerFirst + b.layerCount - 1],
      at: { col: b.x, row: b.y },
      role: [b.role & 1 ? 'embedding' : '', b.role & 2 ? 'head' : ''].filter(Boolean).join(', ') || 'layers',
      fits: b.placement.fits,
      context: b.placement.fits ? b.placement.context : 0,
      fullest_core: { row: f.row, col: f.col, bytes: f.totalWords * 4, bytes_one_position: blockNeedBytes(b.placement), weight_bytes: f.weightWords * 4, kv_bytes: f.kvWordsPerSlot * f.kvSlots * 4 },
    };
  });
  const fits = blocks.every((b) => b.fits);
  const context = Math.min(...blocks.map((b) => b.context));
  // Occupancy of every mesh core: its block's core, '.' outside every block.
  const lines = Array.from({ length: mesh.height }, () => Array.from({ length: mesh.width }, () => '.'));
  for (const b of layout.blocks) {
    b.placement.cores.forEach((cp, i) => {
      const fill = cp.totalWords * 4 / sram;
      lines[b.y + Math.floor(i / layout.grid.width)][b.x + (i % layout.grid.width)] = fill > 1 ? '#' : String(Math.min(9, Math.floor(fill * 10)));
    });
  }
  const occupancy = lines.map((l) => l.join(''));
  const summary = {
    model: source,
    mesh: `${mesh.width}x${mesh.height}`,
    sram_bytes: sram,
    placement: `pipelined:${layout.G}`,
    block: `${layout.grid.width}x${layout.grid.height}`,
    grid: `${layout.grid.across}x${layout.grid.down}`,
    fits,
    context,
    seq_len: model.seqLen,
    blocks,
  };
  if (json) {
    console.log(JSON.stringify({ ...summary, occupancy: mesh.width <= 64 && mesh.height <= 32 ? occupancy : null }));
    return fits ? 0 : 1;
  }
  console.log(`model   ${source}: ${describeConfig(model)}`);
  console.log(`mesh    ${summary.mesh} cores of ${sram} bytes (${preset})`);
  console.log(`placement pipelined: ${layout.G} layer${layout.G > 1 ? 's' : ''} a block, ${blocks.length} block${blocks.length > 1 ? 's' : ''} of ${summary.block} cores on a ${summary.grid} grid in snake order (down the first column of blocks, up the next)`);
  if (mesh.width <= 64 && mesh.height <= 32) {
    console.log("SRAM fill per core, in tenths (# = over capacity, . = outside every block):");
    for (const line of occupancy) console.log(`  ${line}`);
  }
  for (const b of blocks) {
    const f = b.fullest_core;
    console.log(
      `block ${b.block} at (${b.at.row},${b.at.col}), layers ${b.layers[0]}–${b.layers[1]} (${b.role}): fullest core (${f.row},${f.col}) ${f.bytes} of ${sram} bytes (weights ${f.weight_bytes}, KV cache ${f.kv_bytes}); ` +
        (b.fits ? `context ${b.context}` : `does not fit: ${f.bytes_one_position} bytes with one KV position`),
    );
  }
  console.log(fits ? `fits: yes, context ${context} (model seq_len ${model.seqLen}); each block also keeps the embedding-sized table and the final norm as a whole mesh does` : 'fits: no (a larger G, a larger mesh or --placement whole)');
  return fits ? 0 : 1;
}
