import { CATALOG } from '../catalog.ts';
import { WafermeshError, oneLine } from '../errors.ts';
import { baselineProgram } from '../baseline/program.ts';
import { createMachine, type Machine } from '../engines/index.ts';
import { Decoder } from '../engines/generate.ts';
import { Disaggregated, HANDOFF_LINKS, type Handoff } from '../engines/disaggregated.ts';
import { gpuMachineTrace, gpuPrefillCost, meshMachineTrace, type FabricTokenCount, type MachineCost } from '../cost/model.ts';
import { gpuPreset } from '../cost/hardware.ts';
import type { GpuContext } from '../gpu/device.ts';
import { meshFromPreset, type MeshConfig } from '../mesh/config.ts';
import { blockNeedBytes, compilePipelinedProgram, emulatedPlacement, layOutPipelined, smallestFittingG } from '../mesh/pipelined.ts';
import { fitSummary } from '../mesh/fit.ts';
import { columnRuns, split, vectorLength, type VectorKind } from '../mesh/placement.ts';
import { traceFabricToken, type TokenTrace } from '../mesh/fabric-trace.ts';
import type { WaferProgram } from '../mesh/program.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import type { FabricDecode } from '../mesh/programs/decode-fabric.ts';
import { BOS, describeConfig } from '../model/config.ts';
import { isRandomSpec, loadModel, parseModelSpec, type LoadedModel } from '../model/load.ts';
import { TextStream, type Tokenizer } from '../model/tokenizer.ts';
import type { Model } from '../model/weights.ts';
import type { FabricCount } from '../mesh/fabric.ts';
import { violationError, type MeasuredPhase } from '../engines/machine.ts';
import { stepCaption } from './captions.ts';
import type { FitReport, PipelineReport, HandoffReport, PhaseEvent, PhaseInfo, PhaseMeasurement, PrefillReport, PrefillStat, Progress, ServingMode, SessionInfo, SessionRequest, TokenEvent } from './types.ts';

const GPU_PRESET = CATALOG.defaults.gpu;

export interface SessionHost {
  /** The GPU, or a one-line reason why there is none. */
  gpu: () => Promise<GpuContext>;
  fetchBytes: (url: string) => Promise<ArrayBuffer>;
  /**
   * The host keeps the device for its next session (the worker: keptDevice): a session closing
   * leaves it, having destroyed its own buffers. Otherwise each session destroys its device.
   */
  keepsDevice?: boolean;
}

/** Reads the model a request names: a built-in the demo serves (fetched), a random spec, or dropped files. */
async function loadRequestedModel(req: SessionRequest, host: SessionHost): Promise<LoadedModel> {
  if (req.model === 'file') {
    if (!req.checkpoint) throw new WafermeshError('no-file', 'no checkpoint file was given; drop a llama2.c .bin file');
    const tokenizer = req.tokenizer ? new Uint8Array(req.tokenizer) : undefined;
    return loadModel({ kind: 'bytes', name: 'dropped checkpoint', checkpoint: new Uint8Array(req.checkpoint), tokenizer, tokenizerName: 'dropped tokenizer' }, () => {
      throw new WafermeshError('internal', 'a dropped checkpoint reads no files');
    });
  }
  const served = CATALOG.models.filter((m) => m.demo).map((m) => m.id);
  if (!isRandomSpec(req.model) && !served.some((id) => id.toLowerCase() === req.model.toLowerCase())) {
    throw new WafermeshError('unknown-model', `model "${req.model}" is not one the demo serves; use ${served.join(', ')}, a random:<spec>, or drop a checkpoint`);
  }
  const spec = parseModelSpec(req.model);
  // Built-in files are served from the page's models/ folder (public/models/ in the project).
  const url = (p: string) => new URL(p.replace(/^public\/models\//, ''), req.modelBaseUrl).href;
  return loadModel(spec, async (path) => new Uint8Array(await host.fetchBytes(url(path))));
}

/** Which rows and columns of the weights each mesh row and column holds (the placement's split). */
export function tileMap(c: Model['config'], mesh: ReturnType<typeof meshFromPreset>): FitReport['tiles'] {
  const rowsOf = (k: VectorKind) => Array.from({ length: mesh.height }, (_, r) => split(vectorLength(c, k), mesh.height, r));
  const colsOf = (k: 'dim' | 'kv' | 'hidden') => Array.from({ length: mesh.width }, (_, col) => columnRuns(c, mesh, k, col));
  return {
    rows: { dim: rowsOf('dim'), kv: rowsOf('kv'), hidden: rowsOf('hidden'), vocab: rowsOf('vocab') },
    cols: { dim: colsOf('dim'), kv: colsOf('kv'), hidden: colsOf('hidden') },
  };
}

function fitReport(model: Model, req: SessionRequest): FitReport {
  const mesh = meshFromPreset(req.preset, req.mesh.width, req.mesh.height);
  const fit = fitSummary(model.config, mesh);
  const n = mesh.width * mesh.height;
  const weightWords = new Float32Array(n);
  const kvWords = new Float32Array(n);
  const scratchWords = new Float32Array(n);
  fit.placement.cores.forEach((c, i) => {
    weightWords[i] = c.weightWords;
    kvWords[i] = c.kvWordsPerSlot * c.kvSlots;
    scratchWords[i] = c.scratchWords;
  });
  const bigger = fit.smallestFittingMesh;
  return {
    fits: fit.fits,
    width: mesh.width,
    height: mesh.height,
    sramBytes: mesh.sramBytes,
    weightWords,
    kvWords,
    scratchWords,
    context: fit.context,
    seqLen: model.config.seqLen,
    fullest: { row: fit.fullest.row, col: fit.fullest.col, bytes: fit.fullest.bytes },
    smallestFittingMesh: bigger ? `${bigger.width}x${bigger.height}` : null,
    error: fit.error,
    tiles: tileMap(model.config, mesh),
    placement: 'whole',
  };
}

/** A block's role in words, as `fit --placement pipelined` prints it. */
const roleName = (role: number) => [role & 1 ? 'embedding' : '', role & 2 ? 'head' : ''].filter(Boolean).join(', ') || 'layers';

/**
 * The layer-pipelined placement's fit report and, when every block fits, its program: G layers a
 * block (absent: the fewest that fit; when none does, the blocks of the fewest layers the mesh
 * holds, which say why, as `fit --placement pipelined` shows them). Every core outside a block
 * holds nothing (blockOf −1); `tiles` is a block's map.
 */
function pipelinedFit(model: Model, mesh: MeshConfig, req: SessionRequest, G: number | undefined): { fit: FitReport; program?: WaferProgram } {
  const c = model.config;
  let g = G;
  if (g === undefined) {
    try {
      g = smallestFittingG(c, mesh, req.allreduce);
    } catch (e) {
      if (!(e instanceof WafermeshError)) throw e;
      g = Math.max(1, Math.ceil(c.nLayers / (mesh.width * mesh.height)));
    }
  }
  const n = mesh.width * mesh.height;
  const empty: FitReport = {
    fits: false,
    width: mesh.width,
    height: mesh.height,
    sramBytes: mesh.sramBytes,
    weightWords: new Float32Array(n),
    kvWords: new Float32Array(n),
    scratchWords: new Float32Array(n),
    context: 0,
    seqLen: c.seqLen,
    fullest: { row: 0, col: 0, bytes: 0 },
    smallestFittingMesh: null,
    error: null,
    placement: `pipelined:${g}`,
  };
  let layout: ReturnType<typeof layOutPipelined>;
  try {
    layout = layOutPipelined(c, mesh, g);
  } catch (e) {
    // The mesh cannot hold the blocks: nothing is placed, and the report says why.
    if (!(e instanceof WafermeshError)) throw e;
    return { fit: { ...empty, error: oneLine(e) } };
  }
  const { grid } = layout;
  const blockOf = new Int16Array(n).fill(-1);
  let fullest = { row: 0, col: 0, bytes: -1 };
  const blocks: PipelineReport['blocks'] = layout.blocks.map((b, k) => {
    b.placement.cores.forEach((cp, i) => {
      const at = (b.y + Math.floor(i / grid.width)) * mesh.width + b.x + (i % grid.width);
      blockOf[at] = k;
      empty.weightWords[at] = cp.weightWords;
      empty.kvWords[at] = cp.kvWordsPerSlot * cp.kvSlots;
      empty.scratchWords[at] = cp.scratchWords;
    });
    const f = b.placement.fullest;
    const here = { row: b.y + f.row, col: b.x + f.col, bytes: f.totalWords * 4 };
    if (here.bytes > fullest.bytes) fullest = here;
    return { x: b.x, y: b.y, layerFirst: b.layerFirst, layerCount: b.layerCount, role: roleName(b.role), fits: b.placement.fits, context: b.placement.fits ? b.placement.context : 0, fullest: here };
  });
  const fits = blocks.every((b) => b.fits);
  let program: WaferProgram | undefined;
  let error: string | null = null;
  if (fits) {
    program = compilePipelinedProgram(c, mesh, req.allreduce, g);
  } else {
    const k = blocks.findIndex((b) => !b.fits);
    const b = blocks[k];
    error = oneLine(
      new WafermeshError(
        'does-not-fit',
        `placement pipelined:${g}: block ${k} (layers ${b.layerFirst}–${b.layerFirst + b.layerCount - 1}, ${grid.width}x${grid.height} cores) does not fit: its core (${b.fullest.row},${b.fullest.col}) needs ${blockNeedBytes(layout.blocks[k].placement)} bytes with one KV position but has ${mesh.sramBytes}; choose a larger G, a larger mesh or placement whole`,
      ),
    );
  }
  const blockMesh = { ...mesh, width: grid.width, height: grid.height };
  const fit: FitReport = {
    ...empty,
    fits,
    context: fits ? Math.min(...blocks.map((b) => b.context)) : 0,
    fullest,
    error,
    tiles: tileMap(c, blockMesh),
    pipeline: { layersPerBlock: layout.G, width: grid.width, height: grid.height, across: grid.across, down: grid.down, blocks, blockOf },
  };
  return { fit, program };
}

/** The fit report for the request's placement and, when it fits, the wafer's program. */
function fitAndProgram(model: Model, req: SessionRequest): { fit: FitReport; program?: WaferProgram } {
  let layout;
  try {
    layout = emulatedPlacement(req.placement);
  } catch (e) {
    // The page's URL state lets only whole and pipelined[:G] through; a request from elsewhere is told.
    throw new WafermeshError('bad-option', `placement=${req.placement} is not whole, pipelined or pipelined:G (G layers a block, 1 or more): ${oneLine(e)}`);
  }
  const mesh = meshFromPreset(req.preset, req.mesh.width, req.mesh.height);
  if (layout.kind === 'pipelined') {
    if ((req.serving ?? 'monolithic') === 'disaggregated') {
      throw new WafermeshError(
        'bad-option',
        `placement=${req.placement} runs with the monolithic serving mode only: the KV cache's hand-off into the wafer runs on the whole-mesh placement; choose placement whole or serving monolithic`,
      );
    }
    return pipelinedFit(model, mesh, req, layout.layersPerBlock);
  }
  const fit = fitReport(model, req);
  return { fit, program: fit.fits ? compileProgram(model.config, mesh, req.allreduce) : undefined };
}

/** The wafer's machine and the GPU's, with their decoders and text. */
interface Racers {
  program: WaferProgram;
  /** The decode on the fabric that `mesh` runs (the mesh engine) or stands in for (the CPU). */
  decode: FabricDecode;
  mesh: Machine;
  /** `mesh` is the mesh engine, measuring what moves on its fabric; false for the CPU standing in for it (modelled). */
  measured: boolean;
  gpu: Machine;
  meshDecoder: Decoder;
  gpuDecoder: Decoder;
  meshText?: TextStream;
  gpuText?: TextStream;
  serving: ServingMode;
  promptIds: number[];
  /** The wafer preset's name (the wafer's prefill is modelled on it). */
  preset: string;
  /** The GPU runs the prompt as one batch, at the wafer's last prompt position (the two then step together). */
  gpuBatched: boolean;
  /** Disaggregated: the GPU prefills and hands its KV cache to the wafer, which decodes. */
  pair?: Disaggregated;
}

/** The fabric's count of one phase as the page shows it. */
function phaseMeasurement(p: MeasuredPhase): PhaseMeasurement {
  const words = (c: FabricCount) => c.linkWords.reduce((a, b) => a + b, 0);
  return {
    words: words(p.measured),
    steps: p.measured.steps,
    rampWords: p.measured.rampWords,
    adds: p.measured.flops,
    modelledWords: words(p.modelled),
    modelledSteps: p.modelled.steps,
    firstDifference: p.firstDifference,
  };
}

/** The steps "step one phase" walks: the wafer's compute passes and fabric phases, one by one. */
function phaseList(racers: Racers | undefined): PhaseInfo[] {
  return (racers?.mesh.passes ?? []).map((p, i) => ({
    index: i,
    pass: i,
    name: p.name,
    kind: p.kind === 'fabric' ? ('transfer' as const) : ('compute' as const),
    layer: p.layer,
    caption: PIPELINE_CAPTIONS.find(([kind, re]) => kind === (p.kind ?? 'compute') && re.test(p.name))?.[2] ?? stepCaption(p.kind ?? 'compute', p.name),
  }));
}

/** Captions of the steps only the layer-pipelined placement runs: the hand-offs between blocks, the next block's first Σx², the id's return. */
const PIPELINE_CAPTIONS: readonly (readonly ['compute' | 'fabric', RegExp, string])[] = [
  ['fabric', /^hand-off: .*\(block (\d+) to (\d+)\)$/, "fabric: a block's last layer done, x goes to the next block over the fabric, core to core (down or up the columns, or along the rows then down the next block's columns)"],
  ['compute', /^block_sumsq$/, "compute: the next block's cores square and sum their slice of the x handed to them, for its first layer's norm"],
  ['fabric', /^next token: the id back to the first block$/, "fabric: the next token's id goes from the last block back to the first (west along a row, up column 0, along the first block's rows), where the next token is embedded from it"],
];

/** What the page shows of a hand-off: its bytes, measured and modelled times, and each fabric phase's links as counted. */
export function handoffReport(h: Handoff, clockHz: number): HandoffReport {
  const { network, waferEdge } = HANDOFF_LINKS;
  const w = h.wafer;
  return {
    positions: h.positions,
    bytes: h.bytes,
    wallMs: h.handoffMs,
    modelledSeconds: h.modelledMs / 1e3,
    // The parts of the modelled time, from the same catalog figures (the slower link, then the fabric phases).
    networkSeconds: network.latencyS.value + h.bytes / network.bytesPerS.value,
    edgeSeconds: w ? (w.edgeWords * 4) / waferEdge.bytesPerS.value : 0,
    fabricSeconds: w && clockHz ? w.fabricCycles / clockHz : 0,
    network: network.name,
    edge: waferEdge.name,
    latencyAssumed: !!network.latencyS.assumed,
    edgeWords: w ? w.edgeWords : null,
    phases: (w?.phases ?? []).map((p) => ({
      name: p.name,
      perLink: Float32Array.from(p.measured.linkWords),
      words: p.measured.linkWords.reduce((a, b) => a + b, 0),
      steps: p.measured.steps,
      modelledWords: p.modelled.linkWords.reduce((a, b) => a + b, 0),
      modelledSteps: p.modelled.steps,
      firstDifference: p.firstDifference,
    })),
  };
}

/** Recoveries from a lost GPU device in a row (on one token) before the race stops. */
const MAX_RECOVERIES = 3;

/** Per device: the session its lost handler tells (the device may outlive many sessions). */
const lossWatch = new WeakMap<GpuContext, { session: RaceSession | undefined }>();

/** Refusals of a mesh by the mesh engine although the model fits it: reported like a model that does not fit. */
const MESH_REFUSALS = ['unsupported-mesh', 'mesh-too-large'];

/**
 * One race: the same model, prompt and sampler on the wafer and on the conventional GPU
 * (baseline), stepped token by token or phase by phase. The wafer is the mesh engine, whose words
 * move only between neighbouring cores and are counted on every link where they move. Without
 * WebGPU both panes are decoded by the CPU reference standing in for each machine, and the
 * modelled numbers still come from the two plans (on the wafer, the fabric decode's closed form).
 */
export class RaceSession {
  readonly info: SessionInfo;
  private racers: Racers | undefined; // replaced when a lost device is recovered
  private gpuCtx: GpuContext | undefined;
  private generated = 0;
  private nextPass = 0; // passes of the current token already run by stepPhase
  /** Words per link (core * 4 + dir) measured so far in the current token (the mesh engine). */
  private tokenLinks: Float64Array;
  /** The CPU stand-in's modelled trace of the token being stepped (its cycles per step). */
  private stepTrace: TokenTrace | undefined;
  /** The wafer's prompt fed token by token: modelled seconds and wall ms so far; byHand when a prompt pass was stepped alone (not timed). */
  private meshPrompt = { seconds: 0, ms: 0, byHand: false };
  /** Wall ms of the GPU's batched prefill. */
  private gpuPrefillMs = 0;

  private constructor(info: SessionInfo, racers: Racers | undefined, gpuCtx: GpuContext | undefined) {
    this.info = info;
    this.racers = racers;
    this.gpuCtx = gpuCtx;
    this.tokenLinks = new Float64Array(info.fit.width * info.fit.height * 4);
  }

  static async open(req: SessionRequest, host: SessionHost, progress?: (p: Progress) => void): Promise<RaceSession> {
    progress?.({ stage: 'loading the model', fraction: 0.1 });
    const { model, tokenizer, name } = await loadRequestedModel(req, host);
    const c = model.config;
    if (req.prompt !== '' && !tokenizer) {
      throw new WafermeshError('no-tokenizer', `${name} has no tokenizer, so the prompt must be empty (ids are shown instead of text)`);
    }
    const promptIds = tokenizer ? tokenizer.encode(req.prompt, true) : [BOS];
    progress?.({ stage: 'compiling the wafer program', fraction: 0.3 });
    const { fit, program } = fitAndProgram(model, req);
    let gpuCtx: GpuContext | undefined;
    let noWebgpuReason: string | null = null;
    try {
      gpuCtx = await host.gpu();
    } catch (e) {
      noWebgpuReason = oneLine(e);
    }
    let racers: Racers | undefined;
    let refusal = fit.error;
    if (program) {
      progress?.({ stage: "placing the weights in the cores' SRAM", fraction: 0.6 });
      const made: Machine[] = [];
      try {
        racers = await RaceSession.racers(program, model, tokenizer, promptIds, req, gpuCtx, made, progress);
      } catch (e) {
        for (const m of made) m.dispose();
        // The mesh engine refusing this mesh is reported the way a model that does not fit is:
        // the session opens, says why, and does not step.
        if (e instanceof WafermeshError && MESH_REFUSALS.includes(e.code)) {
          refusal = oneLine(e);
        } else {
          if (!host.keepsDevice) gpuCtx?.destroy();
          throw e;
        }
      }
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
      refusal,
      phases: phaseList(racers),
      passes: racers?.mesh.passes.length ?? 0,
      gpuKernels: baselineProgram(c).map((k) => ({ name: k.name, layer: k.layer, weightBytes: k.weightBytes, launch: k.launch })),
      presetClockHz: program?.mesh.clockHz ?? 0,
      gpuPresetName: GPU_PRESET,
      serving: req.serving ?? 'monolithic',
      promptPositions: promptIds.length,
    };
    if (racers) progress?.({ stage: 'ready', fraction: 1 });
    const session = new RaceSession(info, racers, gpuCtx);
    session.source = { host, program, model, tokenizer, promptIds, req };
    session.hookLoss();
    return session;
  }

  /** Both machines (WebGPU's, or the CPU standing in for each) with their decoders; `made` collects them for clean-up. */
  private static async racers(
    program: WaferProgram,
    model: Model,
    tokenizer: Tokenizer | undefined,
    promptIds: number[],
    req: SessionRequest,
    gpuCtx: GpuContext | undefined,
    made: Machine[],
    progress?: (p: Progress) => void,
  ): Promise<Racers> {
    const gpu = gpuCtx ? async () => gpuCtx : undefined;
    const engine = (name: 'gpu') => (gpuCtx ? name : 'cpu');
    // Measuring: every token reads back what each link carried (and a stepped fabric phase, its own).
    const mesh = gpuCtx ? await createMachine('mesh', model, { gpu, program, measure: true }) : await createMachine('cpu', model, { program, standIn: 'mesh' });
    made.push(mesh);
    progress?.({ stage: 'loading the GPU baseline', fraction: 0.85 });
    const gpuMachine = await createMachine(engine('gpu'), model, { gpu, gpuPreset: GPU_PRESET, standIn: 'gpu' });
    made.push(gpuMachine);
    const opts = { promptIds, tokens: req.tokens, temperature: req.temperature, topP: req.topP, seed: req.seed };
    // The mesh's context may be shorter than seq_len: both machines stop at the same place.
    const context = Math.min(program.placement.context, model.config.seqLen);
    const limited = (m: Machine) => ({ config: m.config, context, forward: m.forward.bind(m), reset: m.reset.bind(m) });
    const text = () => (tokenizer ? new TextStream(tokenizer, promptIds[promptIds.length - 1]) : undefined);
    const serving = req.serving ?? 'monolithic';
    // The GPU baseline prefills the prompt as one batch (when an id is to be generated); the wafer
    // feeds it token by token, as it runs here. Disaggregated, the GPU's prefill is handed to the wafer.
    const P = promptIds.length;
    const gpuBatched = !!gpuMachine.prefill && Math.min(P - 1 + req.tokens, context) >= P;
    const pair = serving === 'disaggregated' ? new Disaggregated(gpuMachine, mesh) : undefined;
    // One warm-up position first, as `generate` does, so that pipelines built on first use are not in the measured prefill.
    progress?.({ stage: 'warming up the engines', fraction: 0.9 });
    await mesh.forward(BOS, 0);
    if (gpuBatched) await gpuMachine.prefill!([BOS], 0);
    if (pair) {
      await pair.prefill([BOS], 0);
      pair.handoffs.length = 0;
    }
    const gpuDecodable = { ...limited(gpuMachine), ...(gpuBatched ? { prefill: gpuMachine.prefill!.bind(gpuMachine) } : {}) };
    const meshDecodable = pair ? { config: mesh.config, context, forward: mesh.forward.bind(mesh), reset: () => pair.reset(), prefill: pair.prefill.bind(pair) } : limited(mesh);
    return {
      program,
      decode: mesh.decode!,
      mesh,
      measured: mesh.engine === 'mesh',
      gpu: gpuMachine,
      // The Decoders reset their machines: the warm-up leaves nothing behind.
      gpuDecoder: new Decoder(gpuDecodable, { ...opts, prefill: gpuBatched }),
      meshDecoder: new Decoder(meshDecodable, { ...opts, prefill: !!pair }),
      meshText: text(),
      gpuText: text(),
      serving,
      promptIds,
      preset: req.preset,
      gpuBatched,
      pair,
    };
  }

  /** The race ends when either machine stops (they stop together unless their logits diverge). */
  get done(): boolean {
    return !this.racers || this.racers.meshDecoder.done || this.racers.gpuDecoder.done;
  }

  private runnable(): Racers {
    if (!this.racers) {
      // The refusal already starts with its code (does-not-fit, mesh-too-large …).
      const e = new Error(this.broken ?? this.info.refusal ?? 'does-not-fit: the model does not fit this mesh; choose a larger mesh');
      e.name = 'WafermeshError';
      throw e;
    }
    return this.racers;
  }

  /** Decodes up to `n` generated tokens on both machines. */
  async stepTokens(n: number): Promise<TokenEvent[]> {
    const r = this.runnable();
    const out: TokenEvent[] = [];
    while (out.length < n && !this.done) {
      const { token, pos } = r.meshDecoder.input();
      if (r.pair && pos === 0) {
        // Disaggregated: the GPU's prefill, its KV cache into the wafer, and the first id, in one step.
        const ev = await this.handoffToken(r, r.pair);
        if (ev) out.push(ev);
        continue;
      }
      const t0 = performance.now();
      // Finish a token that stepPhase started, pass by pass; otherwise the whole token at once.
      let logits: Float32Array | undefined;
      if (this.nextPass > 0) {
        for (let p = this.nextPass; p < r.mesh.passes.length; p++) {
          logits = await r.mesh.stepPass(token, pos, p);
          this.addStepped(r);
          this.nextPass = p + 1;
        }
      } else if (r.measured) {
        const m = await r.mesh.measure!(token, pos);
        if (m.violation) {
          throw violationError(m.violation);
        }
        this.tokenLinks.fill(0);
        for (const p of m.phases) p.measured.linkWords.forEach((w, i) => (this.tokenLinks[i] += w));
        logits = m.logits;
      } else {
        logits = await r.mesh.forward(token, pos);
      }
      this.nextPass = 0;
      if (pos < r.promptIds.length) this.meshPrompt.ms += performance.now() - t0;
      const ev = await this.finishToken(r, logits!, pos);
      if (ev) out.push(ev);
    }
    return out;
  }

  /** On the mesh engine: adds what the last stepped fabric phase measured to the token's links; returns it. */
  private addStepped(r: Racers): MeasuredPhase | undefined {
    const m = r.measured ? r.mesh.steppedPhase?.() : undefined;
    if (m) m.measured.linkWords.forEach((w, i) => (this.tokenLinks[i] += w));
    return m;
  }

  /**
   * Runs the wafer's next step alone — a compute pass or a fabric phase — with what the phase
   * moved as the fabric counted it; on the CPU stand-in, what the phase's closed form says it
   * moves and its modelled cycles. A token's last step also produces the token.
   */
  async stepPhase(): Promise<PhaseEvent> {
    const r = this.runnable();
    if (this.done) throw new WafermeshError('done', `generation has stopped (${r.meshDecoder.stop ?? r.gpuDecoder.stop}); press load to start again`);
    const { token, pos } = r.meshDecoder.input();
    if (r.pair && pos === 0) throw new WafermeshError('prefill-first', 'in the disaggregated mode the GPU prefills the prompt and hands its KV cache to the wafer: step one token first, then step the wafer phase by phase');
    const pass = this.nextPass;
    if (pos < r.promptIds.length) this.meshPrompt.byHand = true; // the prompt stepped by hand: its wall clock is not a prefill's
    if (pass === 0) this.tokenLinks.fill(0);
    let links: Float64Array<ArrayBufferLike> = new Float64Array(r.program.mesh.width * r.program.mesh.height * 4);
    let cycles: number | null = null;
    if (!r.measured) {
      // Modelled: the step's cycles from the fabric trace, a fabric phase's words per link from its closed form.
      if (pass === 0 || this.stepTrace?.pos !== pos) this.stepTrace = traceFabricToken(r.decode, token, pos);
      cycles = this.stepTrace.phases[pass].cycles;
      const step = r.decode.steps[pass];
      if (step.kind === 'fabric') links = r.decode.models[step.phase](token, pos).linkWords;
    }
    const info = this.info.phases.filter((p) => p.pass === pass);
    const logits = await r.mesh.stepPass(token, pos, pass);
    const stepped = this.addStepped(r);
    if (stepped) links = stepped.measured.linkWords;
    let tokenEvent: TokenEvent | null = null;
    if (logits) {
      this.nextPass = 0; // the next token starts at its first pass
      tokenEvent = (await this.finishToken(r, logits, pos)) ?? null;
    } else {
      this.nextPass = pass + 1;
    }
    return { pass, passes: r.mesh.passes.length, pos, phases: info, cycles, perLink: Float32Array.from(links), measured: stepped ? phaseMeasurement(stepped) : null, token: tokenEvent };
  }

  private async finishToken(r: Racers, meshLogits: Float32Array, pos: number): Promise<TokenEvent | undefined> {
    // The GPU first: if it fails, neither decoder has moved and the step can be retried. Its
    // batched prefill runs at the wafer's last prompt position (the positions before it are the
    // wafer's alone); disaggregated, it prefilled for the wafer and decodes nothing.
    const P = r.promptIds.length;
    const lastPrompt = pos === P - 1;
    let gpuId: number | undefined;
    if (!r.pair && (!r.gpuBatched || pos >= P - 1)) {
      const t0 = performance.now();
      gpuId = await r.gpuDecoder.step();
      if (lastPrompt) this.gpuPrefillMs = performance.now() - t0;
    }
    const meshId = r.meshDecoder.accept(meshLogits);
    const links = Float32Array.from(this.tokenLinks);
    this.tokenLinks.fill(0);
    if (pos < P - 1) this.meshPrompt.seconds += r.mesh.lastTrace()!.cost.seconds; // a prompt position: part of the wafer's prefill (modelled)
    if (meshId === undefined) return undefined; // still feeding the prompt, or stopped (BOS or context)
    // The mesh engine's words per link were counted on the fabric; the CPU stand-in's are read off the fabric decode's closed form.
    const meshTrace = r.mesh.lastTrace(!r.measured)!;
    const measured = r.measured ? meshTrace.fabricMeasured : null;
    if (measured === undefined) throw new WafermeshError('internal', `the mesh engine did not report what it moved for the token at position ${pos}`);
    const hw = gpuPreset(GPU_PRESET);
    // After the GPU's batched prefill there is no decode step to trace: the decode plan's cost at that position, as before prefill existed.
    const gpuTrace = r.pair ? { cost: gpuPrefillCost(r.mesh.config, P, hw) } : lastPrompt && r.gpuBatched ? gpuMachineTrace(r.mesh.config, r.promptIds[P - 1], P - 1, hw) : r.gpu.lastTrace()!;
    let prefill: PrefillReport | undefined;
    if (this.generated === 0 && lastPrompt) {
      const meshStat: PrefillStat = {
        positions: P,
        how: 'token by token',
        modelledSeconds: this.meshPrompt.seconds + meshTrace.cost.seconds,
        modelledHardware: r.preset,
        wallMs: this.meshPrompt.byHand ? null : this.meshPrompt.ms,
      };
      prefill = { mesh: meshStat, gpu: this.gpuPrefillStat(r, this.gpuPrefillMs), handoff: null, meshTtftSeconds: meshStat.modelledSeconds, meshTtftWallMs: meshStat.wallMs };
    }
    const piece = (ts: TextStream | undefined, id: number | undefined) => (id === undefined ? '' : ts ? ts.push(id) : ` ${id}`);
    this.generated++;
    return {
      index: this.generated - 1,
      pos,
      mesh: { id: meshId, piece: piece(r.meshText, meshId) },
      gpu: { id: gpuId ?? -1, piece: piece(r.gpuText, gpuId) },
      meshCost: meshTrace.cost,
      gpuCost: gpuTrace.cost,
      phaseCycles: Float64Array.from(meshTrace.fabric!.phases.map((p) => p.cycles)),
      perLink: r.measured ? links : Float32Array.from(meshTrace.fabric!.perLink!),
      measured,
      stop: r.meshDecoder.stop ?? null,
      ...(prefill ? { prefill } : {}),
    };
  }

  /** The GPU baseline's batched prefill of the prompt: modelled on its preset, and its wall clock here. */
  private gpuPrefillStat(r: Racers, wallMs: number): PrefillStat {
    const P = r.promptIds.length;
    return { positions: P, how: 'batched', modelledSeconds: gpuPrefillCost(r.mesh.config, P, gpuPreset(GPU_PRESET)).seconds, modelledHardware: GPU_PRESET, wallMs };
  }

  /**
   * Disaggregated, the first step: the GPU prefills the prompt, its KV cache crosses to the wafer
   * (in at the west edge, then over the fabric, each phase counted where it moves) and the first
   * id comes from the GPU's last logits. The wafer decodes every token after it.
   */
  private async handoffToken(r: Racers, pair: Disaggregated): Promise<TokenEvent | undefined> {
    const t0 = performance.now();
    const id = await r.meshDecoder.step();
    const wallMs = performance.now() - t0;
    const h = pair.handoffs[pair.handoffs.length - 1];
    if (!h) throw new WafermeshError('internal', 'the disaggregated prefill reported no hand-off');
    if (id === undefined) return undefined; // the first id was BOS: generation stops
    const P = r.promptIds.length;
    const handoff = handoffReport(h, r.program.mesh.clockHz);
    const gpu = this.gpuPrefillStat(r, h.prefillMs);
    const perLink = new Float32Array(this.tokenLinks.length);
    for (const p of handoff.phases) p.perLink.forEach((w, i) => (perLink[i] += w));
    const phases = h.wafer?.phases ?? [];
    const sum = (f: (p: (typeof phases)[number]) => number) => phases.reduce((a, p) => a + f(p), 0);
    const words = (x: Float64Array) => x.reduce((a, b) => a + b, 0);
    const measured: FabricTokenCount | null = h.wafer
      ? {
          words: sum((p) => words(p.measured.linkWords)),
          steps: sum((p) => p.measured.steps),
          rampWords: sum((p) => p.measured.rampWords),
          adds: sum((p) => p.measured.flops),
          modelledWords: sum((p) => words(p.modelled.linkWords)),
          modelledSteps: sum((p) => p.modelled.steps),
          phasesEqual: phases.filter((p) => p.firstDifference === null).length,
          phases: phases.length,
        }
      : null;
    const cost: MachineCost = gpuPrefillCost(r.mesh.config, P, gpuPreset(GPU_PRESET));
    this.generated++;
    return {
      index: 0,
      pos: P - 1,
      mesh: { id, piece: r.meshText ? r.meshText.push(id) : ` ${id}` },
      gpu: { id: -1, piece: '' },
      meshCost: cost,
      gpuCost: cost,
      phaseCycles: new Float64Array(0),
      perLink,
      measured,
      stop: r.meshDecoder.stop ?? null,
      prefill: {
        mesh: null,
        gpu,
        handoff,
        meshTtftSeconds: gpu.modelledSeconds + handoff.modelledSeconds,
        meshTtftWallMs: wallMs,
        meshAloneSeconds: r.promptIds.reduce((a, t, p) => a + meshMachineTrace(r.decode, t, p).cost.seconds, 0),
      },
    };
  }

  // ---- A GPU device lost mid-run: a new device, the engines rebuilt and brought back to where they were.

  /** What the engines were built from, to build them again on a new device. */
  private source: { host: SessionHost; program: WaferProgram | undefined; model: Model; tokenizer: Tokenizer | undefined; promptIds: number[]; req: SessionRequest } | undefined;
  /** One line per recovery: what was lost and the token the race resumed at. */
  readonly recoveries: string[] = [];
  /** Called when the device is lost other than by dispose (the worker recovers at once, between calls). */
  onDeviceLost: ((message: string) => void) | undefined;
  private closed = false;

  /** Makes this session the one its device's lost handler tells (one handler per device, however many sessions it serves). */
  private hookLoss(): void {
    const ctx = this.gpuCtx;
    if (!ctx) return;
    let entry = lossWatch.get(ctx);
    if (!entry) {
      const e: { session: RaceSession | undefined } = { session: undefined };
      lossWatch.set(ctx, (entry = e));
      ctx.onLost((m) => {
        const s = e.session;
        if (s && s.gpuCtx === ctx && !s.closed) s.onDeviceLost?.(m);
      });
    }
    entry.session = this;
  }

  /** The device this session runs on was lost (other than by dispose) and not yet replaced. */
  get deviceLost(): boolean {
    return !!this.gpuCtx?.lostMessage;
  }

  /** Test hook: loses the session's device as a fault would (GpuContext.loseDevice). */
  loseDevice(): void {
    this.gpuCtx?.loseDevice();
  }

  /**
   * After a device loss: takes a new device, rebuilds both engines on it and replays the tokens
   * the page has been given (the prompt, then every generated token, one forward pass each), so
   * each engine's KV cache, position, sampler and text stream are where they were. The replayed
   * ids must be the ids given before; otherwise the race stops with a one-line error. A token
   * half-stepped by stepPhase starts again at its first step. Does nothing when the device is fine.
   */
  async recover(): Promise<void> {
    try {
      await this.rebuild();
    } catch (e) {
      // The race cannot go on: every later step says why.
      this.broken = oneLine(e);
      throw e;
    }
  }

  /** Why the race stopped after a failed recovery (one line with its code). */
  private broken: string | undefined;

  private async rebuild(): Promise<void> {
    const old = this.racers;
    const src = this.source;
    const lost = this.gpuCtx?.lostMessage;
    if (!lost || !old || !src?.program || this.closed) return;
    old.mesh.dispose();
    old.gpu.dispose();
    this.gpuCtx!.destroy();
    this.gpuCtx = undefined;
    this.racers = undefined;
    let ctx: GpuContext;
    try {
      ctx = await src.host.gpu();
    } catch (e) {
      throw new WafermeshError('device-lost', `${lost}, and no new device could be had (${oneLine(e)}); reload the page`);
    }
    if (this.closed) return src.host.keepsDevice ? undefined : ctx.destroy();
    this.gpuCtx = ctx;
    this.hookLoss();
    const made: Machine[] = [];
    let r: Racers;
    try {
      r = await RaceSession.racers(src.program, src.model, src.tokenizer, src.promptIds, src.req, ctx, made);
      const n = this.generated;
      const want = { mesh: old.meshDecoder.ids.slice(0, n), gpu: old.gpuDecoder.ids.slice(0, n) };
      if (r.pair && n > 0) {
        // Disaggregated: the GPU prefills again and its KV cache crosses into the new wafer, as at the start.
        const id = await r.meshDecoder.step();
        if (id !== undefined) r.meshText?.push(id);
      }
      while (r.meshDecoder.ids.length < n && !r.meshDecoder.done) {
        const { token, pos } = r.meshDecoder.input();
        const id = r.meshDecoder.accept(await r.mesh.forward(token, pos));
        if (id !== undefined) r.meshText?.push(id);
      }
      // Disaggregated, the GPU decodes nothing after its prefill: it has no ids to replay.
      while (!r.pair && r.gpuDecoder.ids.length < n && !r.gpuDecoder.done) {
        const id = await r.gpuDecoder.step();
        if (id !== undefined) r.gpuText?.push(id);
      }
      for (const m of ['mesh', 'gpu'] as const) {
        const got = m === 'mesh' ? r.meshDecoder.ids : r.gpuDecoder.ids;
        const at = want[m].findIndex((id, i) => got[i] !== id);
        if (got.length !== want[m].length || at >= 0) {
          throw new WafermeshError('recovery-diverged', `after the GPU device was lost, the ${m} engine's replay gave id ${got[at] ?? 'none'} where it had given ${want[m][at] ?? 'none'} (token ${at + 1}); press load to start again`);
        }
      }
    } catch (e) {
      for (const m of made) m.dispose();
      throw e;
    }
    this.racers = r;
    this.nextPass = 0;
    this.tokenLinks.fill(0);
    // Lost while the prompt was fed: the new engines feed it again from position 0, so its time starts again too.
    if (this.generated === 0) {
      this.meshPrompt = { seconds: 0, ms: 0, byHand: false };
      this.gpuPrefillMs = 0;
    }
    this.stepTrace = undefined;
    this.recoveries.push(`${lost}; the engines were rebuilt on a new device and the race resumed at token ${this.generated + 1}`);
  }

  /** stepTokens that recovers from a device lost before or during the step and carries on. */
  async stepTokensRecovering(n: number): Promise<TokenEvent[]> {
    this.runnable(); // a session that cannot run (or could not recover) says why
    const out: TokenEvent[] = [];
    let recovered = 0;
    while (out.length < n && !this.done) {
      try {
        out.push(...(await this.stepTokens(1)));
        recovered = 0;
      } catch (e) {
        if (!this.deviceLost) throw e;
        // A device lost again and again on the same token: stop, in one line, rather than loop.
        if (++recovered > MAX_RECOVERIES) {
          this.broken = `device-lost: the GPU device was lost ${MAX_RECOVERIES + 1} times on token ${this.generated + 1}; the race stops here: reload the page`;
          throw new WafermeshError('device-lost', `the GPU device was lost ${MAX_RECOVERIES + 1} times on token ${this.generated + 1}; the race stops here: reload the page`);
        }
        await this.recover();
      }
    }
    return out;
  }

  /** stepPhase that recovers from a device lost before or during the step (the token restarts at its first step). */
  async stepPhaseRecovering(): Promise<PhaseEvent> {
    try {
      return await this.stepPhase();
    } catch (e) {
      if (!this.deviceLost) throw e;
      await this.recover();
      return this.stepPhase();
    }
  }

  dispose(): void {
    this.closed = true;
    // A device kept for later sessions holds no closed session through its lost handler.
    const watch = this.gpuCtx && lossWatch.get(this.gpuCtx);
    if (watch?.session === this) watch.session = undefined;
    this.racers?.mesh.dispose();
    this.racers?.gpu.dispose();
    if (!this.source?.host.keepsDevice || this.deviceLost) this.gpuCtx?.destroy();
  }
}
