import { CATALOG } from '../catalog.ts';
import { REPORTED_LIMITS } from '../gpu/device.ts';
import { meshPreset } from '../mesh/config.ts';
import { nodeGpu } from '../gpu/node.ts';
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
      // The mesh engine keeps every core's SRAM in one buffer bound whole: that bounds the mesh.
      const sram = meshPreset(CATALOG.defaults.wafer).core.sramBytes;
      const bytes = Math.min(ctx.device.limits.maxStorageBufferBindingSize, ctx.device.limits.maxBufferSize);
      const cores = Math.floor(bytes / sram);
      const side = Math.floor(Math.sqrt(cores));
      const out = {
        adapter: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description },
        driver: ctx.driver,
        features: ctx.features,
        limits,
        largest_mesh: { sram_bytes_per_core: sram, cores, square: `${side}x${side}`, limited_by: 'all cores\' SRAM in one storage binding (maxStorageBufferBindingSize, maxBufferSize)' },
      };
      if (values.json) {
        console.log(JSON.stringify(out, null, 2));
      } else {
        console.log(`adapter   ${ctx.adapterName}`);
        console.log(`vendor    ${i.vendor || '-'}  architecture ${i.architecture || '-'}  device ${i.device || '-'}`);
        console.log(`driver    ${ctx.driver.name} (${ctx.driver.detail})${ctx.driver.software ? ', software (CPU)' : ''}`);
        console.log(`features  ${ctx.features.join(' ')}`);
        console.log(`largest mesh the engine emulates at ${sram} bytes per core: ${cores} cores (${side}x${side}), all SRAM in one storage binding`);
        console.log('limits');
        for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(36)} ${v}`);
      }
      return 0;
    } finally {
      ctx.destroy();
    }
  },
};
