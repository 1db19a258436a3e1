import { CATALOG } from '../catalog.ts';
import { REPORTED_LIMITS } from '../gpu/device.ts';
import { meshPreset } from '../mesh/config.ts';
import { nodeGpu } from '../gpu/node.ts';
import { totalmem } from 'node:os';
import { meshCapacity } from '../mesh/capacity.ts';
import type { Command } from './command.ts';

export const infoCommand: Command = {
  summary: 'the WebGPU adapter, driver, limits and features this machine gives',
  usage: '[--json]',
  options: { json: { type: 'boolean' } },
  descriptions: { json: 'print one JSON object (adapter, driver, features, limits, largest mesh) instead of text' },
  async run(values) {
    const ctx = await nodeGpu();
    try {
      const i = ctx.adapterInfo;
      const limits = Object.fromEntries(REPORTED_LIMITS.map((k) => [k, ctx.device.limits[k]]));
      // The mesh engine splits the SRAM into bands of rows, one buffer each: a binding bounds a row,
      // the memory the driver gives bounds the mesh. WebGPU does not report that memory; a CPU
      // driver's is the host's.
      const sram = meshPreset(CATALOG.defaults.wafer).core.sramBytes;
      const cap = meshCapacity(ctx.device.limits, sram, ctx.driver.software ? totalmem() : undefined);
      const out = {
        adapter: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description },
        driver: ctx.driver,
        features: ctx.features,
        limits,
        largest_mesh: {
          sram_bytes_per_core: sram,
          bytes_per_buffer: cap.perBufferBytes,
          widest_row: cap.widestRow,
          cores: cap.cores ?? null,
          square: cap.square ?? null,
          limited_by: cap.cores === undefined
            ? 'the GPU memory the driver gives (WebGPU does not report it); one row of cores must fit one storage buffer'
            : "host memory (a CPU driver's GPU memory), which holds the emulated SRAM and the host's copy it is loaded from: a ceiling, as the route tables and link registers come on top; one row of cores must fit one storage buffer",
        },
      };
      if (values.json) {
        console.log(JSON.stringify(out, null, 2));
      } else {
        console.log(`adapter   ${ctx.adapterName}`);
        console.log(`vendor    ${i.vendor || '-'}  architecture ${i.architecture || '-'}  device ${i.device || '-'}`);
        console.log(`driver    ${ctx.driver.name} (${ctx.driver.detail})${ctx.driver.software ? ', software (CPU)' : ''}`);
        console.log(`features  ${ctx.features.join(' ')}`);
        console.log(
          `largest mesh the engine emulates at ${sram} bytes per core: rows of up to ${cap.widestRow} cores (one ${cap.perBufferBytes}-byte buffer); ` +
            (cap.cores === undefined ? 'as many rows as GPU memory holds (not reported by WebGPU)' : `at most ${cap.cores} cores (${cap.square}) in this machine's ${(totalmem() / 2 ** 30).toFixed(1)} GiB (the SRAM and the host's copy of it; tables on top)`),
        );
        console.log('limits');
        for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(36)} ${v}`);
      }
      return 0;
    } finally {
      ctx.destroy();
    }
  },
};
