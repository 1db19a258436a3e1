import { WafermeshError } from '../errors.ts';
import type { GpuResources } from '../gpu/resources.ts';
import type { FabricViolation } from './machine.ts';
import { DIR } from '../mesh/collectives.ts';
import { checkRound, downstream, FLOW_DIR, streamCore, streamSpan, type FabricCount, type FabricPhase } from '../mesh/fabric.ts';

/** Words per entry of the fabric tables, item kinds, counter layout: put before shaders/fabric.wgsl. */
const STREAM_WORDS = 7;
const ITEM_WORDS = 7;
/** Colours a router carries at once in one round (the kernel's slots per core). */
export const SLOTS = 4;
const MEMBER_WORDS = 2 + SLOTS;
const LOCAL_WORDS = 5;
const C_ROUNDS = 8;
/** Counter words per round: steps, ramp words, adds, words written, deepest link queue. */
const ROUND_WORDS = 5;
const KIND = { reduce: 0, bcast: 1, max: 2 } as const;
const RAMP_BIT = 0x80000000;

/** The WGSL constants of the tables' layout, generated from the lines above and the catalog's link order. */
export function fabricPrelude(): string {
  const u = (name: string, v: number) => `const ${name}: u32 = ${v}u;`;
  return [
    '// Generated from src/engines/fabric-runtime.ts: directions, table layout, item kinds, counters.',
    u('E', DIR.east), u('WST', DIR.west), u('S', DIR.south), u('N', DIR.north),
    u('STREAM_WORDS', STREAM_WORDS), u('ITEM_WORDS', ITEM_WORDS), u('MEMBER_WORDS', MEMBER_WORDS), u('LOCAL_WORDS', LOCAL_WORDS),
    u('SLOTS', SLOTS),
    u('K_REDUCE', KIND.reduce), u('K_BCAST', KIND.bcast), u('K_MAX', KIND.max), u('C_ROUNDS', C_ROUNDS), u('ROUND_WORDS', ROUND_WORDS),
  ].join('\n');
}

export interface FabricLayout {
  readonly width: number;
  readonly height: number;
  /** SRAM words per core. */
  readonly sramWords: number;
  /** (cores, regions): each core's base word of each region its streams name. */
  readonly regions: Uint32Array;
  readonly regionCount: number;
  /** The shards: bands of rows, each with its own SRAM buffer (default: one band, the whole mesh). */
  readonly bands?: readonly Band[];
}

/** A shard of the mesh: rows [row0, row0 + rows), cores [core0, core0 + cores), with its own buffers. */
export interface Band {
  readonly row0: number;
  readonly rows: number;
  readonly core0: number;
  readonly cores: number;
}

/**
 * Splits a mesh into bands of whole rows so that no band's buffer is over `maxBytes`, given the
 * bytes each core needs in the largest per-band buffer; `atLeast` forces more bands (tests).
 * Throws one line when a single row is already too large.
 */
export function planBands(width: number, height: number, bytesPerCore: number, maxBytes: number, atLeast = 1): Band[] {
  const rowBytes = width * bytesPerCore;
  if (rowBytes > maxBytes) {
    throw new WafermeshError('mesh-too-large', `one row of the ${width}-core-wide mesh needs ${rowBytes} bytes in one GPU buffer but this adapter binds at most ${maxBytes}; use a narrower mesh or less SRAM per core`);
  }
  const n = Math.min(height, Math.max(atLeast, Math.ceil((height * rowBytes) / maxBytes), 1));
  // Even bands (the first ones one row taller), each within the limit: n ≥ height·rowBytes / max.
  let rowsPer = Math.ceil(height / n);
  while (rowsPer * rowBytes > maxBytes) rowsPer--;
  const bands: Band[] = [];
  for (let b = 0, row0 = 0; row0 < height; b++) {
    const left = n - b;
    const rows = Math.min(rowsPer, Math.max(1, Math.ceil((height - row0) / Math.max(1, left))));
    bands.push({ row0, rows, core0: row0 * width, cores: rows * width });
    row0 += rows;
  }
  return bands;
}

/** The band holding each core (index into `bands`). */
function bandOfCore(width: number, bands: readonly Band[]): (core: number) => number {
  const byRow: number[] = [];
  bands.forEach((b, i) => {
    for (let r = b.row0; r < b.row0 + b.rows; r++) byRow[r] = i;
  });
  return (core) => byRow[Math.floor(core / width)];
}

export interface FabricOptions {
  /** Check every access on the GPU (slower; tests). */
  instrument?: boolean;
  /** Test-only fault (see shaders/fabric.wgsl): 1 far read, 2 dropped word, 3 extra hop, 4 another core's SRAM, 5 two words offered to a link in one step. */
  fault?: 0 | 1 | 2 | 3 | 4 | 5;
  /** The most cores a mesh may have to run as one workgroup, a whole phase per dispatch (default 256; fewer: a workgroup per line). */
  wholeMesh?: number;
  /** Run every round as one dispatch per fabric step (no barrier loop): faster where a barrier costs more than a pass, as on the software driver in long rounds. */
  perStep?: boolean;
}

/** One round's dispatch: its phase, the steps it loops, rows or columns, and when it runs. */
interface RoundInfo {
  readonly phase: number;
  /** Per stream, to bound the round's steps at a position: KV-cache items per slot and its row, and (one entry per item) the step by which items 0…k have arrived. */
  readonly bounds: readonly { readonly perSlot: number; readonly row: number; readonly height: number; readonly last: Int32Array }[];
  readonly axisRow: boolean;
  readonly line: number;
  readonly locals: number;
  readonly tokenRow?: number;
}

/** The mesh's bands (one, the whole mesh, unless the layout says otherwise). */
export function layoutBands(layout: FabricLayout): readonly Band[] {
  return layout.bands ?? [{ row0: 0, rows: layout.height, core0: 0, cores: layout.width * layout.height }];
}

/** Rounds of the phases, in order. */
export function roundCount(phases: readonly FabricPhase[]): number {
  return phases.reduce((n, p) => n + p.rounds.length, 0);
}

/** Words per core of a band's core tables (regions, then members per round). */
export function coreTableWords(regionCount: number, rounds: number): number {
  return regionCount + rounds * MEMBER_WORDS;
}

/**
 * Flattens phases into the tables the fabric kernel reads: streams, items and local copies for
 * the whole mesh, and per band its cores' regions and round memberships.
 */
export function fabricTables(layout: FabricLayout, phases: readonly FabricPhase[]) {
  const { width: W, height: H } = layout;
  const nCores = W * H;
  if (layout.regions.length !== nCores * layout.regionCount) {
    throw new WafermeshError('internal', `the region table has ${layout.regions.length} entries for ${nCores} cores × ${layout.regionCount} regions`);
  }
  const rounds = phases.flatMap((p, phase) => p.rounds.map((r) => ({ r, phase })));
  const streams: number[] = [];
  const items: number[] = [];
  const bands = layoutBands(layout);
  const bandOf = bandOfCore(W, bands);
  const NREG = layout.regionCount;
  const cores = bands.map((b) => {
    const t = new Uint32Array(b.cores * coreTableWords(NREG, rounds.length));
    t.set(layout.regions.subarray(b.core0 * NREG, (b.core0 + b.cores) * NREG));
    return t;
  });
  /** Where core `core`'s member entry of round `ri` starts in its band's core table. */
  const member = (ri: number, core: number): [Uint32Array, number] => {
    const b = bands[bandOf(core)];
    return [cores[bandOf(core)], b.cores * NREG + (ri * b.cores + core - b.core0) * MEMBER_WORDS];
  };
  const locals: number[] = [];
  const roundInfo: RoundInfo[] = [];
  rounds.forEach(({ r, phase }, ri) => {
    checkRound(W, H, r);
    const N = r.axis === 'row' ? W : H;
    const bounds: RoundInfo['bounds'][number][] = [];
    const used = new Uint8Array(nCores);
    for (const s of r.streams) {
      const index = streams.length / STREAM_WORDS;
      streams.push(items.length / ITEM_WORDS, s.items.length, s.first, FLOW_DIR[s.flow], s.perSlot ?? 0, s.slotRow ?? s.line, s.slotHeight ?? H);
      for (const it of s.items) items.push(it.kind === 'bcast' ? KIND.bcast : it.op === 'max' ? KIND.max : KIND.reduce, it.origin, it.end, it.src.region, it.src.offset, it.dst.region, it.dst.offset);
      const ramps = s.ramps ? new Set(s.ramps) : undefined;
      const { lo, hi } = streamSpan(s);
      for (let p = lo; p <= hi; p++) {
        const core = streamCore(W, s, p);
        const slot = used[core]++;
        if (slot >= SLOTS) throw new WafermeshError('too-many-colours', `core ${core} carries more than the ${SLOTS} colours at once a fabric round emulates; split the round`);
        const [t, at] = member(ri, core);
        t[at + 2 + slot] = ((index + 1) | (!ramps || ramps.has(p) ? RAMP_BIT : 0)) >>> 0;
      }
      // The kernel loops until the last item reached its end, counted from the stream's first core.
      // last[k]: the step by which items 0…k have all reached their ends (item k reaches its end
      // k + its hops from the stream's first core after the clock starts).
      if (s.items.length) {
        const last = new Int32Array(s.items.length);
        s.items.forEach((it, k) => (last[k] = Math.max(k > 0 ? last[k - 1] : 0, k + downstream(s, it.end) + 1)));
        bounds.push({ perSlot: s.perSlot ?? 0, row: s.slotRow ?? s.line, height: s.slotHeight ?? H, last });
      }
    }
    const byCore = new Map<number, number[]>();
    for (const l of r.locals) {
      const list = byCore.get(l.core) ?? [];
      list.push(l.core, l.src.region, l.src.offset, l.dst.region, l.dst.offset);
      byCore.set(l.core, list);
    }
    for (const [core, list] of byCore) {
      const [t, at] = member(ri, core);
      t[at] = locals.length / LOCAL_WORDS;
      t[at + 1] = list.length / LOCAL_WORDS;
      locals.push(...list);
    }
    roundInfo.push({ phase, bounds, axisRow: r.axis === 'row', line: N, locals: r.locals.length, ...(r.tokenRow !== undefined ? { tokenRow: r.tokenRow } : {}) });
  });
  const parts = [Uint32Array.from(streams), Uint32Array.from(items), Uint32Array.from(locals)];
  const offsets: number[] = [];
  let n = 0;
  for (const p of parts) {
    offsets.push(n);
    n += p.length;
  }
  const tables = new Uint32Array(Math.max(1, n));
  parts.forEach((p, i) => tables.set(p, offsets[i]));
  return { tables, cores, bands, offsets: { streams: offsets[0], items: offsets[1], locals: offsets[2] }, rounds: roundInfo };
}

/** A mesh of at most this many cores runs as one workgroup, a whole phase per dispatch. */
const WHOLE_MESH = 256;
/** Cores per workgroup of a dispatch per fabric step (step_main). */
const STEP_GROUP = 64;
/** Bytes between the per-step uniforms a step_main dispatch picks with its dynamic offset. */
const STEP_STRIDE = 256;

/** One dispatch of the fabric kernel: rounds it runs, how, and on which band. */
interface Dispatch {
  readonly phase: number;
  readonly rounds: number[];
  readonly group: GPUBindGroup;
  readonly pipeline: GPUComputePipeline;
  /** 'loop': the rounds' steps looped in the dispatch; 'step': one dispatch per step and band. */
  readonly mode: 'loop' | 'step';
  /** The bands it runs on (a loop dispatch: one; a column loop over one band; step: every band). */
  readonly bands: number[];
  /** Workgroups per band. */
  readonly workgroups: (band: Band) => number;
}

/**
 * The fabric on the GPU: link registers, route tables and counters over a mesh's SRAM. It runs
 * the rounds of its phases — a mesh of at most 256 cores in one shard as one workgroup, a whole
 * phase (all its rounds) per dispatch; a larger one a workgroup per line, consecutive rounds along
 * the same axis per dispatch; the steps looped with a barrier between them; a line a workgroup
 * cannot hold (over 256 cores, or crossing shards) one dispatch per step and shard — and reads
 * back what moved, measured where it moved.
 */
export class FabricRuntime {
  readonly layout: FabricLayout;
  readonly phases: readonly FabricPhase[];
  readonly bands: readonly Band[];
  private readonly res: GpuResources;
  private readonly srams: readonly GPUBuffer[];
  private counters!: GPUBuffer;
  private links: GPUBuffer[] = [];
  private groups0: GPUBindGroup[] = [];
  private readonly dispatches: Dispatch[] = [];
  private readonly roundInfo: RoundInfo[] = [];
  /** Per round, for the token decoded: steps, 1 for a row round, serial, 1 if it runs (the GPU's copy is `liveBuffer`). */
  private live!: Uint32Array;
  private liveBuffer!: GPUBuffer;
  /** Phases encoded since the last submit: their `live` entries hold this submit's serials, so a phase runs once per submit. */
  private readonly encoded = new Set<number>();
  private tokenUniform!: GPUBuffer;
  private tokenRow = -1;
  private pos = 0;
  private countersLength = 0;
  private serial = 0;
  /** Whether the mesh runs as one workgroup, a whole phase per dispatch (else a workgroup per line, or a dispatch per step). */
  wholeMesh = false;
  /** GPU dispatches encoded since counting began (see `takeDispatchCount`). */
  private dispatched = 0;
  /** The buffers it made (not the SRAM it was given), freed by dispose(). */
  private readonly made: GPUBuffer[] = [];

  private constructor(res: GpuResources, srams: readonly GPUBuffer[], layout: FabricLayout, phases: readonly FabricPhase[]) {
    this.res = res;
    this.srams = srams;
    this.layout = layout;
    this.phases = phases;
    this.bands = layoutBands(layout);
    if (srams.length !== this.bands.length) throw new WafermeshError('internal', `${srams.length} SRAM buffers for ${this.bands.length} bands`);
  }

  /**
   * `sram`: the mesh's SRAM ((cores, sramWords) f32), which the fabric reads and writes in place:
   * one buffer, or one per band of `layout.bands`.
   */
  static async create(res: GpuResources, sram: GPUBuffer | readonly GPUBuffer[], layout: FabricLayout, phases: readonly FabricPhase[], options: FabricOptions = {}): Promise<FabricRuntime> {
    const f = new FabricRuntime(res, Array.isArray(sram) ? sram : [sram as GPUBuffer], layout, phases);
    await f.init(options);
    return f;
  }

  private async init(options: FabricOptions): Promise<void> {
    const { width: W, height: H } = this.layout;
    const nCores = W * H;
    const dev = this.res.device;
    const own = <B extends GPUBuffer>(b: B): B => {
      this.made.push(b);
      return b;
    };
    const t = fabricTables(this.layout, this.phases);
    this.roundInfo.push(...t.rounds);
    // Every buffer within one binding, refused in one line before any is made.
    const limit = Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize);
    const sizes: [string, number][] = [
      ['its link registers', 2 * nCores * 4 * 4 * 4],
      ['its route tables', t.tables.byteLength],
      ...t.cores.map((c, i): [string, number] => [`band ${i}'s core tables (${this.roundInfo.length} rounds)`, c.byteLength]),
    ];
    for (const [what, bytes] of sizes) {
      if (bytes > limit) throw new WafermeshError('mesh-too-large', `the fabric of the ${W}x${H} mesh needs ${bytes} bytes for ${what} but this adapter binds at most ${limit}; use a smaller mesh`);
    }
    const regs = own(this.res.storage('fabric:link registers', 2 * nCores * 4 * 4 * 4));
    const tables = own(this.res.storage('fabric:routes', t.tables));
    this.live = new Uint32Array(Math.max(1, t.rounds.length) * 4);
    this.liveBuffer = own(this.res.storage('fabric:live rounds', this.live));
    this.countersLength = C_ROUNDS + ROUND_WORDS * t.rounds.length;
    this.counters = own(this.res.storage('fabric:counters', this.countersLength * 4));
    const entry = (binding: number, type: GPUBufferBindingType, hasDynamicOffset = false): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type, hasDynamicOffset } });
    const g0 = dev.createBindGroupLayout({
      label: 'fabric:group0',
      entries: [entry(0, 'storage'), entry(1, 'storage'), entry(2, 'read-only-storage'), entry(3, 'storage'), entry(4, 'read-only-storage'), entry(5, 'read-only-storage'), entry(6, 'storage'), entry(7, 'uniform')],
    });
    const g1 = dev.createBindGroupLayout({ label: 'fabric:group1', entries: [entry(0, 'uniform'), entry(1, 'uniform'), entry(2, 'uniform', true)] });
    this.tokenUniform = own(this.res.uniform('fabric:token', 16));
    const layout = dev.createPipelineLayout({ label: 'fabric', bindGroupLayouts: [g0, g1] });
    const NREG = this.layout.regionCount;
    this.bands.forEach((b, i) => {
      const cores = own(this.res.storage(`fabric:band ${i} routes`, t.cores[i]));
      const links = own(this.res.storage(`fabric:band ${i} link counters`, Math.max(1, this.phases.length * b.cores * 4) * 4));
      this.links.push(links);
      const band = own(this.res.uniform(`fabric:band ${i}`, 16));
      dev.queue.writeBuffer(band, 0, Uint32Array.of(b.core0, b.cores, b.row0, b.cores * NREG));
      this.groups0.push(
        dev.createBindGroup({
          label: `fabric:group0 band ${i}`,
          layout: g0,
          entries: [this.srams[i], regs, tables, this.counters, this.liveBuffer, cores, links, band].map((buffer, binding) => ({ binding, resource: { buffer } })),
        }),
      );
    });
    // The step a step_main dispatch runs, one uniform per possible step (picked by dynamic offset).
    const maxSteps = Math.max(1, ...t.rounds.map((r) => Math.max(1, ...r.bounds.map((b) => (b.last.length ? b.last[b.last.length - 1] : 0)))));
    const stepData = new Uint32Array((maxSteps * STEP_STRIDE) / 4);
    for (let s = 0; s < maxSteps; s++) stepData[(s * STEP_STRIDE) / 4] = s;
    const stepUniform = own(this.res.buffer('fabric:steps', stepData.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST));
    dev.queue.writeBuffer(stepUniform, 0, stepData);
    const constants = {
      W,
      H,
      SRAM: this.layout.sramWords,
      NREG,
      INSTRUMENT: options.instrument ? 1 : 0,
      FAULT: options.fault ?? 0,
    };
    const maxGroup = Math.min(WHOLE_MESH, dev.limits.maxComputeInvocationsPerWorkgroup);
    const oneBand = this.bands.length === 1;
    const whole = !options.perStep && oneBand && nCores <= Math.min(maxGroup, options.wholeMesh ?? WHOLE_MESH);
    this.wholeMesh = whole;
    const pipelines = new Map<string, GPUComputePipeline>();
    const pipeline = async (line: number, entryPoint: string) => {
      const key = `${entryPoint} ${line}`;
      if (!pipelines.has(key)) pipelines.set(key, await this.res.pipeline('fabric', { ...constants, LINE: line, WHOLE: whole ? 1 : 0 }, entryPoint, layout, fabricPrelude()));
      return pipelines.get(key)!;
    };
    const o = t.offsets;
    const all = this.bands.map((_, i) => i);
    const dispatch = async (phase: number, rounds: number[], mode: Dispatch['mode'], line: number, bands: number[], workgroups: Dispatch['workgroups']) => {
      const u = own(this.res.uniform(`fabric:dispatch ${this.dispatches.length}`, 32));
      dev.queue.writeBuffer(u, 0, Uint32Array.of(rounds[0], rounds.length, phase, t.rounds.length, o.streams, o.items, o.locals, 0));
      const group = dev.createBindGroup({
        label: `fabric:dispatch ${this.dispatches.length}`,
        layout: g1,
        entries: [
          { binding: 0, resource: { buffer: u } },
          { binding: 1, resource: { buffer: this.tokenUniform } },
          { binding: 2, resource: { buffer: stepUniform, size: 16 } },
        ],
      });
      this.dispatches.push({ phase, rounds, group, mode, bands, workgroups, pipeline: await pipeline(line, mode === 'loop' ? 'round_main' : 'step_main') });
    };
    if (whole) {
      for (let p = 0; p < this.phases.length; p++) {
        const rounds = t.rounds.flatMap((r, i) => (r.phase === p ? [i] : []));
        if (rounds.length) await dispatch(p, rounds, 'loop', nCores, [0], () => 1);
      }
    } else {
      // A workgroup per line: consecutive rounds of a phase along the same axis touch only their own
      // line, so one dispatch loops them; a round along the other axis needs the next dispatch. A
      // row round loops per band (its lines lie in one band); a column round only if one band
      // holds the mesh; a line longer than a workgroup runs a dispatch per step.
      const loops = (r: RoundInfo) => !options.perStep && r.line <= maxGroup && (r.axisRow || oneBand);
      for (let i = 0; i < t.rounds.length; ) {
        const r = t.rounds[i];
        if (!loops(r)) {
          await dispatch(r.phase, [i++], 'step', STEP_GROUP, all, (b) => Math.ceil(b.cores / STEP_GROUP));
          continue;
        }
        const group = [i++];
        while (i < t.rounds.length && t.rounds[i].phase === r.phase && t.rounds[i].axisRow === r.axisRow && loops(t.rounds[i])) group.push(i++);
        await dispatch(r.phase, group, 'loop', r.line, all, r.axisRow ? (b) => b.rows : () => W);
      }
    }
    this.res.ctx.check();
  }

  /**
   * The token the next phases run for: its position bounds the KV-cache streams, and `tokenRow`
   * (the mesh row holding its embedding) picks the rounds that broadcast from that row.
   */
  setToken(token: number, pos: number, tokenRow = -1): void {
    this.tokenRow = tokenRow;
    this.pos = pos;
    this.res.device.queue.writeBuffer(this.tokenUniform, 0, Uint32Array.of(token, pos, 0, 0));
  }

  /**
   * Steps round r loops at the current position: a stream bounded by the KV-cache positions its
   * row holds carries only the items of the slots in use (position t lives in row t mod height).
   */
  private stepsAt(r: RoundInfo): number {
    let steps = 0;
    for (const b of r.bounds) {
      const used = this.pos < b.row ? 0 : Math.floor((this.pos - b.row) / b.height) + 1;
      const items = b.perSlot ? Math.min(b.last.length, used * b.perSlot) : b.last.length;
      if (items > 0) steps = Math.max(steps, b.last[items - 1]);
    }
    return steps;
  }

  /** GPU dispatches the fabric encoded since the last call (for reports of passes per token). */
  takeDispatchCount(): number {
    const n = this.dispatched;
    this.dispatched = 0;
    return n;
  }

  /** Encodes phase `phase` into a compute pass for the current token (each round it runs gets a fresh serial). */
  encodePhase(pass: GPUComputePassEncoder, phase: number): void {
    // The rounds' steps and serials are written to `live` when the work is submitted: encoding a
    // phase twice before one submit would give both dispatches the second's values.
    if (this.encoded.has(phase)) throw new WafermeshError('internal', `fabric phase ${phase} encoded twice before one submit`);
    this.encoded.add(phase);
    for (const d of this.dispatches) {
      if (d.phase !== phase) continue;
      let runs = false;
      let steps = 0;
      for (const i of d.rounds) {
        const r = this.roundInfo[i];
        const n = this.stepsAt(r);
        const run = (r.tokenRow === undefined || r.tokenRow === this.tokenRow) && (n > 0 || r.locals > 0);
        this.live.set([n, r.axisRow ? 1 : 0, run ? ++this.serial : 0, run ? 1 : 0], i * 4);
        runs ||= run;
        steps = n;
      }
      if (!runs) continue;
      pass.setPipeline(d.pipeline);
      // A step dispatch runs its round's steps one dispatch each (at least one: its local copies).
      const perStep = d.mode === 'step' ? Math.max(1, steps) : 1;
      for (let s = 0; s < perStep; s++) {
        pass.setBindGroup(1, d.group, [s * STEP_STRIDE]);
        for (const bi of d.bands) {
          pass.setBindGroup(0, this.groups0[bi]);
          pass.dispatchWorkgroups(d.workgroups(this.bands[bi]));
          this.dispatched++;
        }
      }
    }
  }

  /** Runs every phase once, in order, and waits for the GPU. */
  async run(): Promise<void> {
    const enc = this.res.device.createCommandEncoder({ label: 'fabric' });
    for (let p = 0; p < this.phases.length; p++) {
      const pass = enc.beginComputePass({ label: `fabric: ${this.phases[p].name}` });
      this.encodePhase(pass, p);
      pass.end();
    }
    this.submit(enc);
    await this.res.device.queue.onSubmittedWorkDone();
    this.res.ctx.check();
  }

  /** Submits work that encoded phases: from here each phase may be encoded again. */
  submit(enc: GPUCommandEncoder): void {
    if (this.encoded.size) this.res.device.queue.writeBuffer(this.liveBuffer, 0, this.live);
    this.res.device.queue.submit([enc.finish()]);
    this.encoded.clear();
  }

  /** Frees the buffers it made (its tables, registers, counters); the SRAM stays its owner's. */
  dispose(): void {
    for (const b of this.made.splice(0)) this.res.destroyBuffer(b);
  }

  clearCounters(): void {
    this.res.device.queue.writeBuffer(this.counters, 0, new Uint32Array(this.countersLength));
    this.bands.forEach((b, i) => this.res.device.queue.writeBuffer(this.links[i], 0, new Uint32Array(Math.max(1, this.phases.length * b.cores * 4))));
  }

  /** What moved, per phase, as counted by the shader at each link write and ramp transfer. */
  async readCounters(): Promise<{ phases: FabricCount[]; violation: FabricViolation | null }> {
    const c = new Uint32Array(await this.res.read(this.counters));
    const links = await Promise.all(this.links.map(async (l) => new Uint32Array(await this.res.read(l))));
    const nCores = this.layout.width * this.layout.height;
    const phases = this.phases.map((_, p) => {
      let steps = 0;
      let rampWords = 0;
      let flops = 0;
      let maxQueue = 0;
      this.roundInfo.forEach((r, i) => {
        if (r.phase !== p) return;
        const at = C_ROUNDS + ROUND_WORDS * i;
        steps += c[at];
        rampWords += c[at + 1];
        flops += c[at + 2];
        maxQueue = Math.max(maxQueue, c[at + 4]);
      });
      const linkWords = new Float64Array(nCores * 4);
      this.bands.forEach((b, i) => linkWords.set(links[i].subarray(p * b.cores * 4, (p + 1) * b.cores * 4), b.core0 * 4));
      return { steps, rampWords, flops, linkWords, maxQueue };
    });
    const code = (['sram', 'link', 'word'] as const)[c[1] - 1];
    const violation = c[0] > 0 ? { count: c[0], code, core: c[2], round: c[3], address: c[4] } : null;
    return { phases, violation };
  }
}
