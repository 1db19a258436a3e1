/**
 * How large a mesh this machine's WebGPU driver emulates at the preset's SRAM per core, and how
 * fast: for each side S (default 8, 16, 32, 64, 128, 256, 512, …, --max) a random model sized to
 * the mesh is compiled, loaded into the emulated SRAM (in as many buffers as the adapter's binding
 * limit needs) and greedy-decodes a few tokens; each line says the cores, the buffers, the fabric
 * steps and GPU dispatches a token takes, the wall-clock ms per token (measured on this driver),
 * and where it stopped and why. `--wse` tries the WSE-3's full 762 × 1172 instead.
 *
 *   node tools/scale/run.mjs [--max 1024] [--tokens 3] [--wse] [--dim 4]
 *
 * `--dim` is the model's width per mesh column (dim = 4 × the side by default, at least 64).
 */
import { parseArgs } from 'node:util';
import { freemem, totalmem } from 'node:os';
import { createMachine } from '../../src/engines/index.ts';
import type { MeshEngine } from '../../src/engines/mesh.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { oneLine } from '../../src/errors.ts';
import { randomModel } from '../../src/model/random.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';

/** A model whose vectors spread over every column (dim = perCore × the side, at least 64) with two layers. */
function modelFor(side: number, perCore: number): ModelConfig {
  const d = Math.max(64, Math.ceil((perCore * side) / 16) * 16);
  return { dim: d, hiddenDim: 2 * d, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 64, sharedClassifier: false };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { max: { type: 'string', default: '1024' }, tokens: { type: 'string', default: '3' }, wse: { type: 'boolean' }, dim: { type: 'string', default: '4' } } });
  const max = Number(values.max);
  const tokens = Number(values.tokens);
  const sizes: [number, number][] = values.wse ? [[762, 1172]] : [];
  if (!values.wse) for (let s = 8; s <= max; s *= 2) sizes.push([s, s]);
  const gpu = await nodeGpu();
  const l = gpu.device.limits;
  console.log(`adapter ${gpu.adapterName} (${gpu.driver.name}); one buffer binds ${Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize)} bytes; host memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free)`);
  let code = 0;
  for (const [w, h] of sizes) {
    const t0 = performance.now();
    const cfg = modelFor(w, Number(values.dim));
    try {
      const mesh = meshFromPreset('wse-3', w, h);
      const m = (await createMachine('mesh', randomModel(cfg, 1), { gpu: async () => gpu, mesh, allreduce: 'ktree' })) as MeshEngine;
      const loadS = (performance.now() - t0) / 1e3;
      try {
        const rt = m.meshRuntime;
        let token = BOS;
        const ms: number[] = [];
        rt.fabric.takeDispatchCount();
        for (let pos = 0; pos < tokens; pos++) {
          const t = performance.now();
          token = await m.greedy!(token, pos, pos === 0);
          ms.push(performance.now() - t);
        }
        const dispatches = rt.fabric.takeDispatchCount() / tokens;
        const steps = m.decode.steps.filter((s) => s.kind === 'compute').length;
        ms.sort((a, b) => a - b);
        console.log(
          `${w}x${h}: ${w * h} cores in ${rt.bands.length} buffer${rt.bands.length > 1 ? 's' : ''}, dim ${cfg.dim}; loaded in ${loadS.toFixed(1)} s; ` +
            `${Math.round(dispatches)} fabric dispatches + ${steps * rt.bands.length} compute dispatches a token; median ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms/token (measured, this driver)`,
        );
      } finally {
        m.dispose();
      }
    } catch (e) {
      console.log(`${w}x${h}: stopped after ${((performance.now() - t0) / 1e3).toFixed(1)} s: ${oneLine(e)}`);
      code = 1;
      break;
    }
  }
  gpu.destroy();
  return code;
}
