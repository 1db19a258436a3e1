import { allreduceIds, CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { BYTES_PER_VALUE, type Precision } from '../cost/model.ts';
import { predict } from '../cost/predict.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import type { Command } from './command.ts';
import { loadConfig } from './load.ts';
import { CHOICES, numberOption } from './options.ts';

export const predictCommand: Command = {
  summary: 'single-stream decode tokens/s of a real model on a wafer or GPUs, from first principles, with every assumption',
  usage: '[--model NAME|PATH] [--hardware NAME] [--chips N] [--precision fp16|fp8|fp32] [--context N] [--allreduce NAME] [--json]',
  options: {
    model: { type: 'string', default: CATALOG.defaults.predictModel },
    hardware: { type: 'string', default: CATALOG.defaults.predictHardware },
    chips: { type: 'string', default: '1' },
    precision: { type: 'string', default: 'fp16' },
    context: { type: 'string' },
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, hardware: CHOICES.hardware, allreduce: CHOICES.allreduce },
  async run(v) {
    const name = String(v.model);
    const model = loadConfig(name).config;
    const precision = String(v.precision) as Precision;
    if (!(precision in BYTES_PER_VALUE)) throw new WafermeshError('bad-option', `--precision ${precision} is not one of fp32, fp16, fp8`);
    const allreduce = String(v.allreduce) as Allreduce;
    const algorithms = allreduceIds();
    if (!algorithms.includes(allreduce)) throw new WafermeshError('bad-option', `--allreduce ${allreduce} is not one of ${algorithms.join(', ')}`);
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
