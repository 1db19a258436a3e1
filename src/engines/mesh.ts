import { meshMachineTrace, type FabricTokenCount, type MachineTrace } from '../cost/model.ts';
import { WafermeshError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GpuResources } from '../gpu/resources.ts';
import type { WaferProgram } from '../mesh/program.ts';
import type { FabricDecode } from '../mesh/programs/decode-fabric.ts';
import type { Model } from '../model/weights.ts';
import { violationError, type KvImport, type MeasuredPrefillPhase, type WaferPrefillRun, type Machine, type MeasuredPhase, type PassInfo, type TokenMeasurement } from './machine.ts';
import { firstDifference, type FabricCount } from '../mesh/fabric.ts';
import { MeshRuntime, type MeshRuntimeOptions } from './mesh-runtime.ts';
import { compileKvHandoff } from '../mesh/programs/handoff.ts';
import { checkKvCache, type KvCache } from '../model/kv.ts';
import { kvDim } from '../model/config.ts';
import { checkPrefill, checkStep } from '../model/reference.ts';
import { compileKvRelayout, compilePrefill, prefillModel } from '../mesh/programs/prefill-fabric.ts';
import { loadPrefill, runPrefillFabric } from './mesh-prefill.ts';



/** A fabric decode's steps as a machine lists them: compute passes and fabric phases, in order. */
export function fabricPasses(d: FabricDecode): PassInfo[] {
  return d.steps.map((s) => (s.kind === 'compute' ? { name: s.entry, layer: s.layer, kind: 'compute' as const } : { name: d.phases[s.phase].name, layer: null, kind: 'fabric' as const }));
}

/**
 * The wafer: the model decoded in place on an emulated mesh of cores. Weights are placed once in
 * the cores' SRAM; each token runs the fabric decode — compute passes in which a core touches only
 * its own SRAM, and fabric phases in which words move only between neighbouring cores, counted
 * where they move — and its trace (modelled cycles, link traffic, FLOPs) is read off the same decode.
 */
export class MeshEngine implements Machine {
  readonly engine = 'mesh' as const;
  readonly plan = 'mesh' as const;
  readonly wafer: WaferProgram;
  readonly decode: FabricDecode;
  readonly description: string;
  readonly passes: readonly PassInfo[];
  private readonly res: GpuResources;
  private readonly runtime: MeshRuntime;
  private last: { token: number; pos: number; trace?: MachineTrace } | undefined;

  private constructor(res: GpuResources, runtime: MeshRuntime) {
    this.res = res;
    this.runtime = runtime;
    const d = runtime.decode;
    this.decode = d;
    this.wafer = d.program;
    this.passes = fabricPasses(d);
    const m = d.program.mesh;
    const p = d.program.pipeline;
    const layout = p ? `, layer-pipelined: ${p.blocks.length} blocks of ${p.width}x${p.height} with ${p.layersPerBlock} layer${p.layersPerBlock > 1 ? 's' : ''} each` : '';
    this.description = `mesh ${m.width}x${m.height} of ${m.sramBytes}-byte cores${layout} on the fabric: ${d.phases.length} fabric phases and ${d.steps.length - d.phases.length} compute passes per token on ${res.ctx.adapterName}`;
  }

  /** Loads the model onto the wafer and its fabric decode onto the GPU (compile first: the program refuses what does not fit). */
  static async create(ctx: GpuContext, model: Model, decode: FabricDecode, options: MeshRuntimeOptions & { prefill?: 'fabric-gemm' } = {}): Promise<MeshEngine> {
    const res = new GpuResources(ctx);
    try {
      const runtime = await MeshRuntime.create(res, decode, model, options);
      const engine = new MeshEngine(res, runtime);
      if (options.prefill === 'fabric-gemm') {
        engine.loadPrefill(model);
        engine.prefill = (tokens, startPos) => engine.prefillOnFabric(model, tokens, startPos, !!options.instrument);
      }
      return engine;
    } catch (e) {
      res.dispose();
      throw e;
    }
  }

  get config() {
    return this.wafer.model;
  }

  get context(): number {
    return this.wafer.placement.context;
  }

  get liveBuffers(): number {
    return this.res.liveBuffers;
  }

  /** The GPU side of the wafer (instrumented tests read its counters). */
  get meshRuntime(): MeshRuntime {
    return this.runtime;
  }

  private check(token: number, pos: number): void {
    checkStep(this.config, token, pos);
    if (pos >= this.wafer.placement.context) {
      throw new WafermeshError(
        'context-full',
        `position ${pos} is past the ${this.wafer.placement.context} positions this mesh's KV cache holds; use a larger mesh (see \`wafermesh fit\`)`,
      );
    }
  }

  /** Measure every token (a counters read-back each), for lastTrace().fabricMeasured. */
  measuring = false;
  private lastMeasured: readonly MeasuredPhase[] | undefined;

  async forward(token: number, pos: number): Promise<Float32Array> {
    this.stepped = undefined;
    this.steppedPhases = [];
    if (this.measuring) return (await this.measure(token, pos)).logits;
    this.check(token, pos);
    const logits = await this.runtime.step(token, pos);
    this.last = { token, pos };
    this.lastMeasured = undefined;
    return logits;
  }

  /** The id the wafer found for the last token (greedy on the wafer), which it embeds next unless fed. */
  private waferId: number | undefined;

  /** Greedy decoding with the id found on the wafer: only the id leaves. */
  async greedy(token: number, pos: number, fed: boolean): Promise<number> {
    this.check(token, pos);
    if (!fed && token !== this.waferId) {
      throw new WafermeshError('internal', `the wafer holds id ${this.waferId ?? 'none'} for position ${pos} but was asked to embed ${token}`);
    }
    const fabric = this.runtime.fabric;
    if (this.measuring) fabric.clearCounters();
    const id = await this.runtime.stepGreedy(token, pos, fed);
    this.last = { token, pos };
    this.stepped = undefined;
    this.steppedPhases = [];
    this.lastMeasured = undefined;
    if (this.measuring) {
      const { phases, violation } = await fabric.readCounters();
      if (violation) {
        throw violationError(violation);
      }
      this.lastMeasured = this.compare(phases, token, pos);
    }
    this.waferId = id;
    if (id < 0) throw new WafermeshError('non-finite-logits', `a logit at position ${pos} is not finite (the wafer's max-reduce flagged it); the model produced non-finite values, so no token is chosen`);
    return id;
  }

  /** Each phase's measured count beside its closed form for the token decoded at `pos`. */
  private compare(phases: readonly FabricCount[], token: number, pos: number): MeasuredPhase[] {
    const decode = this.runtime.decode;
    return phases.map((m, i) => {
      const modelled = decode.models[i](token, pos);
      return { name: decode.phases[i].name, modelled, measured: m, firstDifference: firstDifference(modelled, m) };
    });
  }

  /**
   * Takes over a KV cache another machine computed (a prefill elsewhere): positions 0 …
   * kv.positions − 1 enter at the wafer's west edge and reach the cores that keep them through
   * fabric phases, each counted where it moves and checked against its closed form. Decoding then
   * continues at position kv.positions. A fabric violation is refused as in decoding.
   */
  async importKv(kv: KvCache, options: { maxLanding?: number } = {}): Promise<KvImport> {
    this.refusePipelined('take over a KV cache');
    checkKvCache(this.config, kv, this.context);
    const h = compileKvHandoff(this.wafer, kv.positions, options);
    const { phases, violation } = await this.runtime.importKv(h, kv);
    if (violation) throw violationError(violation);
    this.last = undefined;
    return {
      positions: kv.positions,
      edgeWords: h.edgeWords,
      fabricCycles: h.fabricCycles,
      violation,
      phases: phases.map((measured, i) => ({ name: h.phases[i].phase.name, modelled: h.phases[i].model, measured, firstDifference: firstDifference(h.phases[i].model, measured) })),
    };
  }

  /**
   * Hands the KV cache of positions 0 … positions − 1 to another machine: the fabric carries each
   * slot's words west to the edge cores, where the host reads them (the reverse of importKv), each
   * phase counted where it moves. `lastExport` has what moved beside the closed form.
   */
  async kvCache(positions: number): Promise<KvCache> {
    this.refusePipelined('hand its KV cache out');
    const h = compileKvHandoff(this.wafer, positions, { out: true });
    const { kv, phases, violation } = await this.runtime.exportKv(h, positions);
    if (violation) throw violationError(violation);
    this.lastExport = {
      positions,
      edgeWords: h.edgeWords,
      fabricCycles: h.fabricCycles,
      violation,
      phases: phases.map((measured, i) => ({ name: h.phases[i].phase.name, modelled: h.phases[i].model, measured, firstDifference: firstDifference(h.phases[i].model, measured) })),
    };
    return kv;
  }

  /**
   * With `prefill: 'fabric-gemm'`: the prompt as one batch by the wafer prefill on the fabric
   * (src/engines/mesh-prefill.ts: every linear layer a MeshGEMM on the P × P block, in the prefill's
   * own layout), from position 0, in this mesh's own SRAM past the words the decode uses (its
   * weights loaded there with the model). Its last fabric phase carries the KV cache west along the
   * rows to the edge column; then, per hand-off slot, a re-layout phase along column 0 sorts the
   * words into the edge cores' landing zones in the decode's order and the hand-off's 'in' phase
   * carries them east to their decode owners — no KV word leaves the wafer.
   * Absent otherwise (the prompt is fed token by token).
   */
  prefill?: (tokens: readonly number[], startPos: number) => Promise<Float32Array>;

  /**
   * The last wafer prefill: each of its fabric phases measured beside its closed form, the KV
   * hand-off's 'in' phases (no word landed from outside: edgeWords 0), the re-layout phases before
   * them, the words they moved, and the wall times (ms) of the prefill and of the re-layout with the hand-off.
   */
  lastPrefill: WaferPrefillRun | undefined;

  /** The Machine's view of `lastPrefill`. */
  get waferPrefill(): WaferPrefillRun | undefined {
    return this.lastPrefill;
  }

  /** Where the prefill's loaded words sit in every core (past the decode's), set by loadPrefill. */
  private prefillLoaded: { base: number; offset: number; words: number } | undefined;

  /** Loads the prefill's weights into this mesh's SRAM past the decode's words (host I/O at load, once). */
  private loadPrefill(model: Model): void {
    const mesh = this.wafer.mesh;
    this.refusePipelined('prefill on the fabric');
    const sram = this.runtime.sramBuffer;
    if (!sram) {
      throw new WafermeshError('mesh-too-large', `the wafer prefill runs in the ${mesh.width}x${mesh.height} mesh's SRAM as one GPU buffer, but this mesh's SRAM is split into ${this.runtime.bands.length} bands; use a smaller mesh or leave out --prefill mesh`);
    }
    const base = this.runtime.decodeWords;
    // The loaded part's layout is the same for every prompt length (checked at each prefill).
    const plan = compilePrefill(mesh, this.config, 1, { base });
    loadPrefill(this.res, sram, plan, model);
    this.prefillLoaded = { base, ...plan.sram.loaded };
  }

  private async prefillOnFabric(model: Model, tokens: readonly number[], startPos: number, instrument: boolean): Promise<Float32Array> {
    this.refusePipelined('prefill on the fabric');
    if (startPos !== 0) throw new WafermeshError('bad-option', `the wafer prefill runs a prompt from position 0, not ${startPos}; feed the positions after a prefill one at a time`);
    checkPrefill(this.config, tokens, 0);
    this.check(tokens[tokens.length - 1], tokens.length - 1);
    const loaded = this.prefillLoaded!;
    const plan = compilePrefill(this.wafer.mesh, this.config, tokens.length, { base: loaded.base });
    if (plan.sram.loaded.offset !== loaded.offset || plan.sram.loaded.words !== loaded.words) {
      throw new WafermeshError('internal', `the prefill of ${tokens.length} positions lays its weights out unlike the loaded ones (a bug: please report it)`);
    }
    const run = await runPrefillFabric(this.res, plan, model, tokens, { instrument, sram: this.runtime.sramBuffer });
    if (run.violation) throw violationError(run.violation);
    const modelled = prefillModel(plan);
    const phases = run.phases.map((measured, i) => ({ name: plan.phases[i].name, modelled: modelled[i], measured, firstDifference: firstDifference(modelled[i], measured) }));
    // The KV cache from the west edge's buffers to its decode owners: re-layout, hand-off 'in', per slot.
    const h = compileKvHandoff(this.wafer, tokens.length);
    const r = compileKvRelayout(plan, h);
    const moved = await this.runtime.runPhases(r.phases, r.regionTable, r.regionCount);
    if (moved.violation) throw violationError(moved.violation);
    this.last = undefined;
    const measured = moved.phases.map((m, i) => ({ name: r.phases[i].name, modelled: r.models[i], measured: m, firstDifference: firstDifference(r.models[i], m) }));
    const handoff: KvImport = { positions: tokens.length, edgeWords: 0, fabricCycles: h.fabricCycles, violation: null, phases: measured.filter((_, i) => !r.relayout[i]) };
    this.lastPrefill = { phases, handoff, ms: run.ms, relayout: measured.filter((_, i) => r.relayout[i]), relayoutWords: r.words, relayoutCycles: r.cycles, relayoutMs: moved.ms };
    const V = this.config.vocabSize;
    return run.logits.slice((tokens.length - 1) * V);
  }

  /** The KV hand-off is compiled for the whole-mesh placement only. */
  private refusePipelined(what: string): void {
    if (this.wafer.pipeline) {
      throw new WafermeshError('unsupported-placement', `the mesh engine cannot ${what} under the layer-pipelined placement (the KV hand-off is laid out for the whole mesh); use --placement whole`);
    }
  }

  /** The last KV cache handed out: what left at the edge and what the fabric moved, per phase. */
  lastExport: KvImport | undefined;

  /**
   * Decodes a token on the fabric and reads back what moved, phase by phase, beside each phase's
   * closed-form cost: words per link, steps, ramp words and adds, and the first difference.
   */
  async measure(token: number, pos: number): Promise<TokenMeasurement> {
    const fabric = this.runtime.fabric;
    this.check(token, pos);
    fabric.clearCounters();
    const logits = await this.runtime.step(token, pos);
    const { phases, violation } = await fabric.readCounters();
    const measured = this.compare(phases, token, pos);
    this.last = { token, pos };
    this.lastMeasured = measured;
    return { logits, violation, phases: measured };
  }

  /** While measuring: the last stepPass's fabric phase, and the phases of the token stepped so far (by phase index). */
  private stepped: MeasuredPhase | undefined;
  private steppedPhases: (MeasuredPhase | undefined)[] = [];

  async stepPass(token: number, pos: number, pass: number): Promise<Float32Array | undefined> {
    this.check(token, pos);
    const fabric = this.runtime.fabric;
    const decode = this.runtime.decode;
    const step = decode.steps[pass];
    // A fabric phase stepped while measuring: its counters alone, cleared before and read after.
    const phase = this.measuring && step?.kind === 'fabric' ? step.phase : undefined;
    if (pass === 0) this.steppedPhases = [];
    this.stepped = undefined;
    if (phase !== undefined) fabric.clearCounters();
    const logits = await this.runtime.stepPasses(token, pos, pass, pass + 1);
    if (phase !== undefined) {
      const { phases } = await fabric.readCounters();
      const modelled = decode.models[phase](token, pos);
      this.stepped = { name: decode.phases[phase].name, modelled, measured: phases[phase], firstDifference: firstDifference(modelled, phases[phase]) };
      this.steppedPhases[phase] = this.stepped;
    }
    if (logits) {
      this.last = { token, pos };
      // The token's trace carries what the fabric measured when every phase of it was stepped measuring.
      const all = this.measuring && decode.phases.every((_, i) => this.steppedPhases[i]);
      this.lastMeasured = all ? (this.steppedPhases as MeasuredPhase[]) : undefined;
      this.steppedPhases = [];
    }
    return logits;
  }

  /** What the last stepPass moved, when it was a fabric phase stepped while measuring. */
  steppedPhase(): MeasuredPhase | undefined {
    return this.stepped;
  }

  /** The trace of the last token decoded, read off the fabric decode when first asked for (with what the fabric measured, when it did). */
  lastTrace(perLink = false): MachineTrace | undefined {
    if (!this.last) return undefined;
    if (!this.last.trace || (perLink && !this.last.trace.fabric?.perLink)) {
      const t = meshMachineTrace(this.decode, this.last.token, this.last.pos, perLink);
      this.last.trace = this.lastMeasured ? { ...t, fabricMeasured: fabricTotals(this.lastMeasured) } : t;
    }
    return this.last.trace;
  }

  reset(): void {
    this.runtime.reset();
    this.last = undefined;
    this.waferId = undefined;
  }

  dispose(): void {
    this.res.dispose();
  }
}

/** A token's fabric traffic summed over its phases. */
function fabricTotals(phases: readonly MeasuredPhase[]): FabricTokenCount {
  const sum = (f: (p: MeasuredPhase) => number) => phases.reduce((a, p) => a + f(p), 0);
  const words = (c: FabricCount) => c.linkWords.reduce((a, b) => a + b, 0);
  return {
    words: sum((p) => words(p.measured)),
    steps: sum((p) => p.measured.steps),
    rampWords: sum((p) => p.measured.rampWords),
    adds: sum((p) => p.measured.flops),
    modelledWords: sum((p) => words(p.modelled)),
    modelledSteps: sum((p) => p.modelled.steps),
    phasesEqual: phases.filter((p) => p.firstDifference === null).length,
    phases: phases.length,
  };
}
