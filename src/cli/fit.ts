import { fitSummary } from '../mesh/fit.ts';
import type { Placement } from '../mesh/placement.ts';
import { describeConfig } from '../model/config.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { loadConfig } from './load.ts';
import type { Command } from './command.ts';
import { CHOICES, MESH_CHOICES, MESH_OPTIONS, meshOption } from './options.ts';

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
  usage: '[--model PATH|NAME] [--mesh WxH] [--preset NAME] [--sram BYTES] [--json]',
  options: {
    model: { type: 'string', default: DEFAULT_MODEL },
    ...MESH_OPTIONS,
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, ...MESH_CHOICES },
  descriptions: {
    model: 'the model: a name below (shapes known without weights too), a llama2.c checkpoint PATH, or random:<spec>',
    mesh: 'the wafer: WIDTHxHEIGHT cores, e.g. 8x8 (up to 2048 a side)',
    preset: 'the wafer core (SRAM per core, clock)',
    sram: 'SRAM bytes per core, overriding the preset (a multiple of 4)',
    json: 'print one JSON object (the fit and the occupancy map) instead of text',
  },
  async run(v) {
    const model = loadConfig(String(v.model));
    const mesh = meshOption(v);
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
