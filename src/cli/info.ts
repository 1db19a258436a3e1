import { REPORTED_LIMITS } from '../gpu/device.ts';
import { nodeGpu } from '../gpu/node.ts';
import type { Command } from './command.ts';

export const infoCommand: Command = {
  summary: 'the WebGPU adapter, driver, limits and features this machine gives',
  usage: '[--json]',
  options: { json: { type: 'boolean' } },
  async run(values) {
    const ctx = await nodeGpu();
    try {
      const i = ctx.adapterInfo;
      const limits = Object.fromEntries(REPORTED_LIMITS.map((k) => [k, ctx.device.limits[k]]));
      const out = {
        adapter: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description },
        driver: ctx.driver,
        features: ctx.features,
        limits,
      };
      if (values.json) {
        console.log(JSON.stringify(out, null, 2));
      } else {
        console.log(`adapter   ${ctx.adapterName}`);
        console.log(`vendor    ${i.vendor || '-'}  architecture ${i.architecture || '-'}  device ${i.device || '-'}`);
        console.log(`driver    ${ctx.driver.name} (${ctx.driver.detail})${ctx.driver.software ? ', software (CPU)' : ''}`);
        console.log(`features  ${ctx.features.join(' ')}`);
        console.log('limits');
        for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(36)} ${v}`);
      }
      return 0;
    } finally {
      ctx.destroy();
    }
  },
};
