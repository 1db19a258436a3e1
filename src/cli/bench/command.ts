import { writeFileSync } from 'node:fs';
import { CATALOG } from '../../catalog.ts';
import { WafermeshError } from '../../errors.ts';
import { gpuPreset } from '../../cost/hardware.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { nodeGpu } from '../../gpu/node.ts';
import type { Allreduce } from '../../mesh/collectives.ts';
import { DEFAULT_PRESET, meshFromPreset } from '../../mesh/config.ts';
import { compileProgram } from '../../mesh/programs/decode.ts';
import type { Model } from '../../model/weights.ts';
import { CDecoder } from '../cdecode.ts';
import type { Command } from '../command.ts';
import { checkWaferPrefill } from '../generate.ts';
import { loadModel } from '../load.ts';
import { CHOICES, numberOption, outputPathOption, sramOption } from '../options.ts';
import { COLUMNS, formatLine, formatPromptLine, PROMPT_COLUMNS, gitCommit, header, jsonLines, markdown, progressBar, sweepCharts } from './report.ts';
import { runCase, type BenchResult } from './run.ts';
import { BENCH_ENGINES, buildSuite, parseContexts, parseEngines, parseMeshes, parsePrompts, SUITES } from './suite.ts';

/**
 * `wafermesh bench`: builds the suite's cases (suite.ts), runs each (run.ts: the machines through
 * createMachine, the C decode through cdecode.ts) and reports them as they come (report.ts).
 */
export const benchCommand: Command = {
  summary: 'measure the engines side by side (wall clock on this driver) with modelled numbers for the preset hardware',
  usage: `[--engines ${BENCH_ENGINES.join(',')}] [--suite ${SUITES.join('|')}] [--model NAME|PATH] [--meshes 8x8,16x16] [--contexts 0,128] [--prompts 1,16,64,200] [--wafer-prefill gemm] [--tokens T] [--repeats R] [--allreduce NAME] [--preset NAME] [--sram BYTES] [--gpu-preset NAME] [--json FILE] [--md FILE] [--svg PREFIX]`,
  options: {
    engines: { type: 'string', default: BENCH_ENGINES.join(',') },
    suite: { type: 'string', default: 'default' },
    model: { type: 'string', default: 'stories260K' },
    meshes: { type: 'string' },
    contexts: { type: 'string' },
    prompts: { type: 'string' },
    'wafer-prefill': { type: 'string' },
    tokens: { type: 'string', default: '16' },
    repeats: { type: 'string', default: '3' },
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    preset: { type: 'string', default: DEFAULT_PRESET },
    sram: { type: 'string' },
    'gpu-preset': { type: 'string', default: CATALOG.defaults.gpu },
    json: { type: 'string' },
    md: { type: 'string' },
    svg: { type: 'string' },
  },
  choices: { suite: { values: () => SUITES }, 'wafer-prefill': { values: () => ['gemm'] }, model: CHOICES.runnableModel, allreduce: CHOICES.allreduce, preset: CHOICES.wafer, 'gpu-preset': CHOICES.gpu },
  descriptions: {
    engines: `the machines to time, comma-separated: ${BENCH_ENGINES.join(', ')} (c: the plain C decode)`,
    suite: 'which cases: default (engines, then mesh size, context, model size and prompt sweeps), engines, or prompt',
    model: 'the model timed: a name below, a llama2.c checkpoint PATH, or random:<spec>',
    meshes: 'the mesh-size sweep, comma-separated WIDTHxHEIGHT (default: 8x8,16x16,32x32)',
    contexts: 'the context sweep: positions decoded before the timed ones, comma-separated (default: 0,128,384 where they fit)',
    prompts: 'the prompt-length sweep: prompt tokens with BOS, comma-separated (default: 1,16,64,200 where they fit)',
    'wafer-prefill': 'gemm: the prompt sweep also times the mesh with the wafer prefill on the fabric (MeshGEMM, then the KV cache to the decode layout), beside token by token',
    tokens: 'timed tokens per repeat',
    repeats: 'repeats per case (the median is reported, with the range)',
    allreduce: 'how the wafer runs its allreduces: chain, ring or ktree',
    preset: 'the wafer core every mesh is made of',
    sram: 'SRAM bytes per core, overriding the preset (a multiple of 4)',
    'gpu-preset': "the GPU the baseline's modelled numbers are for",
    json: 'also write JSON Lines, one object per case, to FILE',
    md: 'also write a markdown table to FILE',
    svg: 'also write SVG plots of the sweeps to files starting with PREFIX',
  },
  async run(v) {
    // Every option and output path is checked here, before a model is loaded or the GPU started.
    const engines = parseEngines(String(v.engines));
    const tokens = numberOption('tokens', v.tokens, 16, true);
    const repeats = numberOption('repeats', v.repeats, 3, true);
    if (tokens < 1) throw new WafermeshError('bad-option', `--tokens ${tokens} must be at least 1`);
    if (repeats < 1) throw new WafermeshError('bad-option', `--repeats ${repeats} must be at least 1`);
    // Checked here, and against the context in buildSuite, before any GPU work.
    const prompts = v.prompts !== undefined ? parsePrompts(String(v.prompts)) : undefined;
    const meshes = v.meshes !== undefined ? parseMeshes(String(v.meshes)) : undefined;
    const contexts = v.contexts !== undefined ? parseContexts(String(v.contexts)) : undefined;
    // A sweep's option on a suite that does not run it would be ignored without a word: refused.
    const suite = String(v.suite);
    if (meshes && (suite !== 'default' || !engines.includes('mesh'))) throw new WafermeshError('bad-option', `--meshes sweeps the mesh engine in the default suite; it does nothing with --suite ${suite}${engines.includes('mesh') ? '' : ` and --engines ${engines.join(',')}`}`);
    if (contexts && suite !== 'default') throw new WafermeshError('bad-option', `--contexts sweeps the context in the default suite; it does nothing with --suite ${suite}`);
    if (prompts && suite === 'engines') throw new WafermeshError('bad-option', '--prompts sweeps prompt lengths in the default and prompt suites; it does nothing with --suite engines');
    const waferPrefill = v['wafer-prefill'] === 'gemm';
    if (waferPrefill && (suite === 'engines' || !engines.includes('mesh'))) throw new WafermeshError('bad-option', `--wafer-prefill gemm adds the mesh's fabric prefill to the prompt sweep; it needs --engines with mesh and --suite prompt or default`);
    if (v.json !== undefined) outputPathOption('json', String(v.json));
    if (v.md !== undefined) outputPathOption('md', String(v.md));
    if (v.svg !== undefined) outputPathOption('svg', String(v.svg), true);
    const allreduce = String(v.allreduce) as Allreduce;
    const preset = String(v.preset);
    const sram = sramOption(v.sram);
    const gpuHw = gpuPreset(String(v['gpu-preset']));
    for (const s of meshes ?? []) meshFromPreset(preset, s.width, s.height, sram);
    const mainModel = String(v.model);
    const models = new Map<string, Model>();
    const getModel = async (name: string) => {
      let m = models.get(name);
      if (!m) {
        m = (await loadModel(name)).model;
        models.set(name, m);
      }
      return m;
    };
    const cases = await buildSuite(
      {
        suite,
        engines,
        model: mainModel,
        preset,
        sram,
        tokens,
        meshes: meshes?.map((m) => `${m.width}x${m.height}`),
        contexts,
        prompts,
        waferPrefill,
      },
      getModel,
    );
    // The wafer prefill runs beside the decode in the same cores: each such case checked to fit, before any GPU work.
    for (const c of cases) {
      if (c.waferPrefill !== 'gemm' || !c.mesh || c.prompt === undefined) continue;
      const config = (await getModel(c.model)).config;
      checkWaferPrefill('mesh', compileProgram(config, c.mesh, allreduce), config, c.prompt);
    }

    let gpu: GpuContext | undefined;
    let cdecode: CDecoder | undefined;
    const results: BenchResult[] = [];
    const commit = gitCommit();
    let head: string[];
    try {
      if (cases.some((c) => c.engine !== 'cpu' && c.engine !== 'c')) gpu = await nodeGpu();
      head = header({ commit, gpu, model: mainModel, config: (await getModel(mainModel)).config, preset, allreduce, tokens, repeats, gpuHw });
      for (const h of head) console.log(h);
      if (cases.some((c) => c.prompt === undefined)) console.log(COLUMNS);
      const progress = progressBar(cases.length);
      const settings = { tokens, repeats, allreduce, gpuPreset: gpuHw.name, gpu, cdecode: () => (cdecode ??= CDecoder.compile()) };
      for (let i = 0; i < cases.length; i++) {
        const c = cases[i];
        progress(i, `${c.engine} ${c.model.slice(0, 20)} ${c.mesh ? `${c.mesh.width}x${c.mesh.height}` : ''}`);
        const r = await runCase(c, await getModel(c.model), settings);
        results.push(r);
        // The prompt sweep has columns of its own (time to first token, prefill tokens/s).
        if (c.prompt !== undefined && cases.findIndex((x) => x.prompt !== undefined) === i) console.log(PROMPT_COLUMNS);
        console.log(c.prompt !== undefined ? formatPromptLine(r) : formatLine(r));
      }
      progress(cases.length, '');
    } finally {
      cdecode?.dispose();
      gpu?.destroy();
    }
    if (v.json) writeFileSync(String(v.json), jsonLines(results, gpu?.adapterName ?? null, commit));
    if (v.md) writeFileSync(String(v.md), markdown(head, results));
    if (v.svg) {
      for (const chart of sweepCharts(results, mainModel)) {
        const file = `${String(v.svg)}${chart.file}`;
        writeFileSync(file, chart.svg);
        console.log(`wrote ${file}`);
      }
    }
    return results.some((r) => r.error) ? 1 : 0;
  },
};
