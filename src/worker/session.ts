import { WafermeshError, oneLine } from '../errors.ts';
import { gpuPreset } from '../cost/hardware.ts';
import { gpuTokenCost, meshTokenCost } from '../cost/model.ts';
import { baselineProgram } from '../engines/baseline-program.ts';
import { CpuEngine } from '../engines/cpu.ts';
import type { Engine } from '../engines/engine.ts';
import { Decoder } from '../engines/generate.ts';
import { GpuEngine } from '../engines/gpu.ts';
import { MeshEngine } from '../engines/mesh.ts';
import type { GpuContext } from '../gpu/device.ts';
import { meshFromPreset } from '../mesh/config.ts';
import { place, refuseIfNotFits, smallestFittingMesh } from '../mesh/placement.ts';
import { compileProgram, type WaferProgram } from '../mesh/program.ts';
import { tracePhase, traceToken } from '../mesh/trace.ts';
import { readCheckpoint } from '../model/checkpoint.ts';
import { BOS, describeConfig } from '../model/config.ts';
import { parseRandomSpec, randomModel } from '../model/random.ts';
import { builtinModel } from '../model/registry.ts';
import { readTokenizer, TextStream, type Tokenizer } from '../model/tokenizer.ts';
import type { Model } from '../model/weights.ts';
import type { FitReport, PhaseEvent, PhaseInfo, Progress, SessionInfo, SessionRequest, TokenEvent } from './types.ts';

const GPU_PRESET = 'toy-gpu';

export interface SessionHost {
  /** The GPU, or a one-line reason why there is none. */
  gpu: () => Promise<GpuContext>;
  fetchBytes: (url: string) => Promise<ArrayBuffer>;
}

/** Reads the model a request names: a built-in (fetched), a random spec, or dropped files. */
async function loadRequestedModel(req: SessionRequest, host: SessionHost): Promise<{ model: Model; tokenizer?: Tokenizer; name: string }> {
  if (req.model === 'file') {
    if (!req.checkpoint) throw new WafermeshError('no-file', 'no checkpoint file was given; drop a llama2.c .bin file');
    const model = readCheckpoint(new Uint8Array(req.checkpoint), 'dropped checkpoint');
    const tokenizer = req.tokenizer ? readTokenizer(new Uint8Array(req.tokenizer), 'dropped tokenizer', model.config.vocabSize) : undefined;
    return { model, tokenizer, name: 'dropped checkpoint' };
  }
  if (req.model.startsWith('random:') || req.model === 'random') {
    const { config, seed } = parseRandomSpec(req.model.slice('random:'.length));
    return { model: randomModel(config, seed), name: req.model };
  }
  const b = builtinModel(req.model);
  if (!b || !b.checkpoint.startsWith('public/')) {
    throw new WafermeshError('unknown-model', `model "${req.model}" is not one the demo serves; use wm-stories, a random:<spec>, or drop a checkpoint`);
  }
  const url = (p: string) => new URL(p.replace(/^public\/models\//, ''), req.modelBaseUrl).href;
  const model = readCheckpoint(new Uint8Array(await host.fetchBytes(url(b.checkpoint))), b.name);
  const tokenizer = b.tokenizer ? readTokenizer(new Uint8Array(await host.fetchBytes(url(b.tokenizer))), `${b.name} tokenizer`, model.config.vocabSize) : undefined;
  return { model, tokenizer, name: b.name };
}

function fitReport(model: Model, req: SessionRequest): FitReport {
  const mesh = meshFromPreset(req.preset, req.mesh.width, req.mesh.height);
  const p = place(model.config, mesh);
  const n = mesh.width * mesh.height;
  const weightWords = new Float32Array(n);
  const kvWords = new Float32Array(n);
  const scratchWords = new Float32Array(n);
  p.cores.forEach((c, i) => {
    weightWords[i] = c.weightWords;
    kvWords[i] = c.kvWordsPerSlot * c.kvSlots;
    scratchWords[i] = c.scratchWords;
  });
  let error: string | null = null;
  try {
    refuseIfNotFits(p);
  } catch (e) {
    error = oneLine(e);
  }
  const bigger = p.fits && p.context >= model.config.seqLen ? undefined : smallestFittingMesh(model.config, mesh);
  return {
    fits: p.fits,
    width: mesh.width,
    height: mesh.height,
    sramBytes: mesh.sramBytes,
    weightWords,
    kvWords,
    scratchWords,
    context: p.fits ? p.context : 0,
    seqLen: model.config.seqLen,
    fullest: { row: p.fullest.row, col: p.fullest.col, bytes: p.fullest.totalWords * 4 },
    smallestFittingMesh: bigger ? `${bigger.width}x${bigger.height}` : null,
    error,
  };
}

/**
 * One race: the same model, prompt and sampler on the wafer (mesh engine) and on the
 * conventional GPU (baseline), stepped token by token or pass by pass. Without WebGPU both panes
 * are decoded by the CPU reference, and the modelled numbers still come from the two programs.
 */
interface SessionParts {
  info: SessionInfo;
  program?: WaferProgram;
  meshDecoder?: Decoder;
  gpuDecoder?: Decoder;
  meshEngine?: Engine;
  gpuEngine?: Engine;
  meshText?: TextStream;
  gpuText?: TextStream;
  gpuCtx?: GpuContext;
}

export class RaceSession {
  readonly info: SessionInfo;
  private readonly program: WaferProgram | undefined;
  private readonly meshDecoder: Decoder | undefined;
  private readonly gpuDecoder: Decoder | undefined;
  private readonly meshEngine: Engine | undefined;
  private readonly gpuEngine: Engine | undefined;
  private readonly meshText: TextStream | undefined;
  private readonly gpuText: TextStream | undefined;
  private readonly gpuCtx: GpuContext | undefined;
  private generated = 0;
  private nextPass = 0; // passes of the current token already run by stepPhase

  private constructor(p: SessionParts) {
    this.info = p.info;
    this.program = p.program;
    this.meshDecoder = p.meshDecoder;
    this.gpuDecoder = p.gpuDecoder;
    this.meshEngine = p.meshEngine;
    this.gpuEngine = p.gpuEngine;
    this.meshText = p.meshText;
    this.gpuText = p.gpuText;
    this.gpuCtx = p.gpuCtx;
  }

  static async open(req: SessionRequest, host: SessionHost, progress?: (p: Progress) => void): Promise<RaceSession> {
    progress?.({ stage: 'loading the model', fraction: 0.1 });
    const { model, tokenizer, name } = await loadRequestedModel(req, host);
    const c = model.config;
    if (req.prompt !== '' && !tokenizer) {
      throw new WafermeshError('no-tokenizer', `${name} has no tokenizer, so the prompt must be empty (ids are shown instead of text)`);
    }
    const fit = fitReport(model, req);
    const promptIds = tokenizer ? tokenizer.encode(req.prompt, true) : [BOS];
    progress?.({ stage: 'compiling the wafer program', fraction: 0.3 });
    const program = fit.fits ? compileProgram(c, meshFromPreset(req.preset, req.mesh.width, req.mesh.height), req.allreduce) : undefined;
    const phases: PhaseInfo[] = [];
    program?.passes.forEach((p, pass) =>
      p.phases.forEach((i) => {
        const ph = program.phases[i];
        phases.push({ index: i, pass, name: ph.name, kind: ph.kind, layer: ph.layer, collective: ph.kind === 'transfer' ? ph.collective : null });
      }),
    );
    let gpuCtx: GpuContext | undefined;
    let noWebgpuReason: string | null = null;
    try {
      gpuCtx = await host.gpu();
    } catch (e) {
      noWebgpuReason = oneLine(e);
    }
    const info: SessionInfo = {
      modelName: name,
      config: c,
      describe: describeConfig(c),
      hasTokenizer: !!tokenizer,
      promptText: req.prompt,
      mode: gpuCtx ? 'webgpu' : 'cpu',
      adapter: gpuCtx?.adapterName ?? null,
      noWebgpuReason,
      fit,
      phases,
      passes: program?.passes.length ?? 0,
      gpuKernels: baselineProgram(c).map((k) => ({ name: k.name, layer: k.layer, weightBytes: k.weightBytes, launch: k.launch })),
      presetClockHz: program?.mesh.clockHz ?? 0,
      gpuPresetName: GPU_PRESET,
    };
    if (!program) return new RaceSession({ info, gpuCtx });
    progress?.({ stage: 'placing the weights in the cores\' SRAM', fraction: 0.6 });
    let meshEngine: Engine | undefined;
    let gpuEngine: Engine | undefined;
    try {
      return await RaceSession.withEngines(info, program, model, tokenizer, promptIds, req, gpuCtx, progress, (m, g) => {
        meshEngine = m;
        gpuEngine = g;
      });
    } catch (e) {
      meshEngine?.dispose();
      gpuEngine?.dispose();
      gpuCtx?.destroy();
      throw e;
    }
  }

  private static async withEngines(
    info: SessionInfo,
    program: WaferProgram,
    model: Model,
    tokenizer: Tokenizer | undefined,
    promptIds: number[],
    req: SessionRequest,
    gpuCtx: GpuContext | undefined,
    progress: ((p: Progress) => void) | undefined,
    made: (mesh: Engine, gpu?: Engine) => void,
  ): Promise<RaceSession> {
    const c = model.config;
    let meshEngine: Engine;
    let gpuEngine: Engine;
    if (gpuCtx) {
      meshEngine = await MeshEngine.fromProgram(gpuCtx, model, program);
      made(meshEngine);
      progress?.({ stage: 'loading the GPU baseline', fraction: 0.85 });
      gpuEngine = await GpuEngine.create(gpuCtx, model);
    } else {
      meshEngine = new CpuEngine(model);
      gpuEngine = new CpuEngine(model);
    }
    made(meshEngine, gpuEngine);
    const opts = { promptIds, tokens: req.tokens, temperature: req.temperature, topP: req.topP, seed: req.seed };
    // The mesh's context may be shorter than seq_len: both machines stop at the same place.
    const context = Math.min(program.placement.context, c.seqLen);
    const limited = (e: Engine) => ({ config: e.config, context, forward: e.forward.bind(e), reset: e.reset.bind(e) });
    const session = new RaceSession({
      info,
      program,
      meshEngine,
      gpuEngine,
      gpuCtx,
      meshDecoder: new Decoder(limited(meshEngine), opts),
      gpuDecoder: new Decoder(limited(gpuEngine), opts),
      meshText: tokenizer ? new TextStream(tokenizer, promptIds[promptIds.length - 1]) : undefined,
      gpuText: tokenizer ? new TextStream(tokenizer, promptIds[promptIds.length - 1]) : undefined,
    });
    progress?.({ stage: 'ready', fraction: 1 });
    return session;
  }

  /** The race ends when either machine stops (they stop together unless their logits diverge). */
  get done(): boolean {
    return !this.meshDecoder || this.meshDecoder.done || !this.gpuDecoder || this.gpuDecoder.done;
  }

  private requireRunnable(): void {
    if (!this.program || !this.meshDecoder || !this.gpuDecoder) {
      throw new WafermeshError('does-not-fit', this.info.fit.error ?? 'the model does not fit this mesh; choose a larger mesh');
    }
  }

  /** Decodes up to `n` generated tokens on both machines. */
  async stepTokens(n: number): Promise<TokenEvent[]> {
    this.requireRunnable();
    const out: TokenEvent[] = [];
    while (out.length < n && !this.done) {
      const ev = await this.oneForward();
      if (ev) out.push(ev);
    }
    return out;
  }

  /** Runs the mesh program's next pass alone; a token's last pass also produces the token. */
  async stepPhase(): Promise<PhaseEvent> {
    this.requireRunnable();
    const program = this.program!;
    if (this.done) throw new WafermeshError('done', `generation has stopped (${this.meshDecoder!.stop ?? this.gpuDecoder!.stop}); press load to start again`);
    const { token, pos } = this.meshDecoder!.input();
    const pass = this.nextPass;
    const links = new Float64Array(program.mesh.width * program.mesh.height * 4);
    let cycles = 0;
    for (const i of program.passes[pass].phases) cycles += tracePhase(program, i, token, pos, links).cycles;
    const info = this.info.phases.filter((p) => p.pass === pass);
    let tokenEvent: TokenEvent | null = null;
    if (pass + 1 < program.passes.length) {
      if (this.meshEngine instanceof MeshEngine) await this.meshEngine.meshRuntime.stepPasses(token, pos, pass, pass + 1);
      this.nextPass = pass + 1;
    } else {
      // The last pass yields the logits; in CPU mode the reference computes them here.
      const logits =
        this.meshEngine instanceof MeshEngine ? (await this.meshEngine.meshRuntime.stepPasses(token, pos, pass, pass + 1))! : await this.meshEngine!.forward(token, pos);
      this.nextPass = 0; // in both modes: the next token starts at its first pass
      tokenEvent = (await this.finishToken(logits, token, pos)) ?? null;
    }
    return { pass, passes: program.passes.length, pos, phases: info, cycles, perLink: Float32Array.from(links), token: tokenEvent };
  }

  private async oneForward(): Promise<TokenEvent | undefined> {
    const { token, pos } = this.meshDecoder!.input();
    let logits: Float32Array;
    if (this.nextPass > 0 && this.meshEngine instanceof MeshEngine) {
      // Finish a token that stepPhase started.
      logits = (await this.meshEngine.meshRuntime.stepPasses(token, pos, this.nextPass, this.program!.passes.length))!;
    } else {
      logits = await this.meshEngine!.forward(token, pos);
    }
    this.nextPass = 0;
    return this.finishToken(logits, token, pos);
  }

  private async finishToken(meshLogits: Float32Array, token: number, pos: number): Promise<TokenEvent | undefined> {
    // The GPU first: if it fails, neither decoder has moved and the step can be retried.
    const gpuId = await this.gpuDecoder!.step();
    const meshId = this.meshDecoder!.accept(meshLogits);
    if (meshId === undefined && !this.meshDecoder!.done) return undefined; // still feeding the prompt
    if (meshId === undefined) return undefined; // stopped (BOS or context) without a new token
    const program = this.program!;
    const trace = traceToken(program, token, pos, true);
    const gpuHw = gpuPreset(GPU_PRESET);
    const piece = (ts: TextStream | undefined, id: number | undefined) => (id === undefined ? '' : ts ? ts.push(id) : ` ${id}`);
    this.generated++;
    return {
      index: this.generated - 1,
      pos,
      mesh: { id: meshId, piece: piece(this.meshText, meshId) },
      gpu: { id: gpuId ?? -1, piece: piece(this.gpuText, gpuId) },
      meshCost: meshTokenCost(trace, program.mesh, program.model),
      gpuCost: gpuTokenCost(program.model, pos, gpuHw, 'fp32'),
      phaseCycles: Float64Array.from(trace.phases.map((p) => p.cycles)),
      perLink: Float32Array.from(trace.perLink!),
      stop: this.meshDecoder!.stop ?? null,
    };
  }

  dispose(): void {
    this.meshEngine?.dispose();
    this.gpuEngine?.dispose();
    this.gpuCtx?.destroy();
  }
}
