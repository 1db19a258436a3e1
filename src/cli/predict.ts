import { WafermeshError } from '../errors.ts';
import { BYTES_PER_VALUE, type Precision } from '../cost/model.ts';
import { predict, REAL_MODELS } from '../cost/predict.ts';
import { ALLREDUCE_ALGORITHMS, type Allreduce } from '../mesh/collectives.ts';
import { loadConfig } from './load.ts';
import type { Command } from './main.ts';
import { numberOption } from './options.ts';

export const predictCommand: Command = {
  summary: 'single-stream decode tokens/s of a real model on a wafer or GPUs, from first principles, with every assumption',
  usage: '--model llama-3.1-8b|llama-3.1-70b|NAME|PATH --hardware wse-3|h100|toy-gpu [--chips N] [--precision fp16|fp8|fp32] [--context N] [--allreduce ring|tree] [--json]',
  options: {
    model: { type: 'string', default: 'llama-3.1-8b' },
    hardware: { type: 'string', default: 'wse-3' },
    chips: { type: 'string', default: '1' },
    precision: { type: 'string', default: 'fp16' },
    context: { type: 'string' },
    allreduce: { type: 'string', default: 'tree' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const name = String(v.model);
    const model = REAL_MODELS[name.toLowerCase()] ?? loadConfig(name).config;
    const precision = String(v.precision) as Precision;
    if (!(precision in BYTES_PER_VALUE)) throw new WafermeshError('bad-option', `--precision ${precision} is not one of fp32, fp16, fp8`);
    const allreduce = String(v.allreduce) as Allreduce;
    if (!ALLREDUCE_ALGORITHMS.includes(allreduce)) throw new WafermeshError('bad-option', `--allreduce ${allreduce} is not one of ring, tree`);
    const p = predict(name, model, String(v.hardware).toLowerCase(), {
      chips: numberOption('chips', v.chips, 1, true),
      precision,
      context: v.context === undefined ? undefined : numberOption('context', v.context, 1024, true),
      allreduce,
    });
    if (v.json) {
      console.log(JSON.stringify(p));
      return 0;
    }
    console.log(`${p.model} on ${p.chips} x ${p.hardware}, ${p.precision}, context ${p.context}: ${p.tokens_per_s} tokens/s (${p.ms_per_token} ms/token), bound by ${p.bound}`);
    console.log('where the time goes (ms/token):');
    for (const [k, ms] of Object.entries(p.time_breakdown_ms)) console.log(`  ${k.padEnd(28)} ${ms}`);
    console.log(`energy: ${p.energy_per_token_j} J/token`);
    console.log('assumptions (modelled, not measured):');
    for (const a of p.assumptions) console.log(`  - ${a}`);
    return 0;
  },
};
