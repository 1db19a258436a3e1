import { DEFAULT_PRESET, meshFromPreset, parseMeshSize } from '../mesh/config.ts';
import { place, smallestFittingMesh, type Placement } from '../mesh/placement.ts';
import { describeConfig } from '../model/config.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { loadModel } from './load.ts';
import { numberOption, type Command } from './main.ts';

/** One character per core: its SRAM fill in tenths (0–9), '#' when over capacity. */
export function occupancyMap(p: Placement): string[] {
  const sramWords = p.mesh.sramBytes / 4;
  const lines: string[] = [];
  for (let r = 0; r < p.mesh.height; r++) {
    let s = '';
    for (let c = 0; c < p.mesh.width; c++) {
      const f = p.cores[r * p.mesh.width + c].totalWords / sramWords;
      s += f > 1 ? '#' : String(Math.min(9, Math.floor(f * 10)));
    }
    lines.push(s);
  }
  return lines;
}

export const fitCommand: Command = {
  summary: 'place a model on a mesh: SRAM occupancy per core, the fullest core, the longest context, whether it fits',
  usage: '[--model PATH|NAME] [--mesh WxH] [--preset NAME] [--sram BYTES] [--json]',
  options: {
    model: { type: 'string', default: DEFAULT_MODEL },
    mesh: { type: 'string', default: '8x8' },
    preset: { type: 'string', default: DEFAULT_PRESET },
    sram: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const { model } = loadModel(String(v.model));
    const size = parseMeshSize(String(v.mesh));
    const sram = v.sram === undefined ? undefined : numberOption('sram', v.sram, 0, true);
    const mesh = meshFromPreset(String(v.preset), size.width, size.height, sram);
    const p = place(model.config, mesh);
    const bigger = p.fits && p.context >= model.config.seqLen ? undefined : smallestFittingMesh(model.config, mesh);
    const f = p.fullest;
    const summary = {
      model: model.source,
      mesh: `${mesh.width}x${mesh.height}`,
      sram_bytes: mesh.sramBytes,
      fits: p.fits,
      context: p.fits ? p.context : 0,
      seq_len: model.config.seqLen,
      max_context: Number.isFinite(p.maxContext) ? p.maxContext : null,
      fullest_core: { row: f.row, col: f.col, bytes: f.totalWords * 4, weight_bytes: f.weightWords * 4, scratch_bytes: f.scratchWords * 4, kv_bytes: f.kvWordsPerSlot * f.kvSlots * 4 },
      total_weight_bytes: p.cores.reduce((n, c) => n + c.weightWords * 4, 0),
      smallest_fitting_mesh: bigger ? `${bigger.width}x${bigger.height}` : null,
    };
    if (v.json) {
      console.log(JSON.stringify({ ...summary, occupancy: occupancyMap(p) }));
      return p.fits ? 0 : 1;
    }
    console.log(`model   ${model.source}: ${describeConfig(model.config)}`);
    console.log(`mesh    ${summary.mesh} cores of ${mesh.sramBytes} bytes (${v.preset})`);
    console.log('SRAM fill per core, in tenths (# = over capacity):');
    for (const line of occupancyMap(p)) console.log(`  ${line}`);
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
