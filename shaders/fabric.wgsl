// fabric: the wafer's routers and links, one invocation per core. A mesh of at most 256 cores in
// one shard runs as one workgroup and a whole phase (all its rounds) in one dispatch, looping the
// fabric steps with a barrier between them (round_main, WHOLE); a larger one runs a workgroup per
// line (a row or a column), consecutive rounds along the same axis in one dispatch (round_main).
// A line that a workgroup cannot hold — over 256 cores, or crossing shards — runs one dispatch per
// fabric step and shard (step_main): WebGPU promises no forward progress between workgroups, so
// nothing spins waiting for another; the dispatch boundary is the step's barrier.
//
// Shards: a mesh whose SRAM is too large for one binding is split into bands of rows, each with its
// own SRAM, per-core tables and link counters (binding 0, 5, 6; `band` says which rows). A
// dispatch binds one band; link registers are one buffer over the mesh, so the words that cross a
// band's edge are read from the register the neighbour in the next band wrote the step before.
//
// Every core has its SRAM slice and four outgoing link registers (east, west, south, north), each
// holding one word per step (double-buffered by step parity: written at step s, read by the
// neighbour it points at during step s + 1). In a step a core reads only its own SRAM and the
// registers of its neighbours that point at it, and writes only its own SRAM and its own
// registers: the only accessors that touch the buffers are sram_ld / sram_st / link_rd / link_wr.
// Routes are data (`tables`): per round, per core and per flow direction, the colour (stream) the
// router carries and whether it takes the colour's words down the ramp to the core.
//
// Shapes: sram (band cores, SRAM) f32; regs (2, W*H, 4, 4) u32 = (value bits, item + 1, round
// serial, step + 1); tables: streams (S, 7: first item, items, first core, direction, items per KV slot, slot row, slot height) | items (I, 7) | locals (L, 5) u32; cores (the band's): regions
// (band cores, NREG) | members (R, band cores, 2 + SLOTS) u32 (a member: its local copies' first and
// count, then per colour slot stream + 1 | ramp bit); live (R, 4) u32 = per round, for the token
// decoded: steps to loop, 1 for a row round, its serial, 1 if it runs; counters u32 (see C_* below);
// links (phases, band cores, 4) u32: words each core wrote to each outgoing link, per phase.

override W: u32; // mesh width
override H: u32; // mesh height
override SRAM: u32; // words of SRAM per core
override NREG: u32; // regions per core in the region table
override LINE: u32; // this pipeline's workgroup size: W*H (WHOLE), else the cores per line (W for rows, H for columns)
override WHOLE: bool = false; // one workgroup is the whole mesh and a dispatch runs a whole phase
override INSTRUMENT: bool = false; // check every access on the GPU and record the first violation
// Test-only faults, to prove the checks can fail: 1 reads a register two hops away, 2 drops one
// word, 3 sends one word one hop past its end, 4 reads another core's SRAM, 5 offers a link two
// words in one step.
override FAULT: u32 = 0u;

// Generated before this file from src/engines/fabric-runtime.ts (fabricPrelude): the directions
// E, WST, S, N (the catalog's link order), the table layout (STREAM_WORDS, ITEM_WORDS,
// MEMBER_WORDS, LOCAL_WORDS), the item kinds K_REDUCE, K_BCAST, K_MAX and C_ROUNDS.
// counters: [0] violations, [1] first violation's code, [2] core, [3] round, [4] address;
// then from C_ROUNDS per round [steps, ramp words, adds, words written, most words offered to one
// link register in one step (1: no word ever waited; 2 or more: a link was oversubscribed)].
const V_SRAM = 1u; // an SRAM access outside the core's slice
const V_LINK = 2u; // a register read that is not a neighbour's pointing at this core
const V_WORD = 3u; // a register that does not hold the word the schedule says (lost or misrouted)

// One dispatch: rounds [first, first + count) of phase `phase`, and the tables' layout (the
// offsets of the sub-tables) — uniform data, so pipelines differ only by mesh. What changes per
// token is in `live`; the step a step_main dispatch runs is `at` (a dynamic offset per step).
struct Dispatch {
  first: u32,
  count: u32,
  phase: u32,
  nrounds: u32,
  o_streams: u32,
  o_items: u32,
  o_locals: u32,
  pad: u32,
}
struct Band {
  core0: u32, // its first core
  cores: u32, // its cores
  row0: u32, // its first row
  o_members: u32, // where the members start in `cores`
}
struct Step {
  step: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> sram: array<f32>;
@group(0) @binding(1) var<storage, read_write> regs: array<u32>;
@group(0) @binding(2) var<storage, read> tables: array<u32>;
@group(0) @binding(3) var<storage, read_write> counters: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> live: array<u32>;
@group(0) @binding(5) var<storage, read> cores: array<u32>;
@group(0) @binding(6) var<storage, read_write> links: array<u32>;
@group(0) @binding(7) var<uniform> band: Band;
@group(1) @binding(0) var<uniform> info: Dispatch;
// The token decoded: what a broadcast of its embedding and the KV-cache positions depend on.
struct Token {
  token: u32,
  pos: u32,
  pad0: u32,
  pad1: u32,
}
@group(1) @binding(1) var<uniform> token: Token;
@group(1) @binding(2) var<uniform> at: Step;

fn combine(kind: u32, a: f32, b: f32) -> f32 {
  if (kind == K_MAX) {
    return max(a, b);
  }
  return a + b;
}

var<private> me: u32;
// The round running and its serial (a fresh one each time it runs, so a stale register is never
// taken for this round's word).
var<private> round: u32;
var<private> serial: u32;
// What this core moved in this round, kept in its own registers and added to `counters` once at
// the round's end (atomics per word would serialise the cores): words written per outgoing link,
// words taken down the ramp, adds, and the last step in which it sent or took a word.
var<private> sent: array<u32, 4>;
var<private> queued: u32;
var<private> ramped: u32;
var<private> adds: u32;
var<private> last_step: u32;

fn violation(code: u32, addr: u32) {
  if (atomicAdd(&counters[0], 1u) == 0u) {
    atomicStore(&counters[1], code);
    atomicStore(&counters[2], me);
    atomicStore(&counters[3], round);
    atomicStore(&counters[4], addr);
  }
}

// Own SRAM: word a of this core's slice.
fn sram_ld(a_in: u32) -> f32 {
  var a = a_in;
  if (FAULT == 4u && me == 1u) {
    a = a + SRAM; // test-only: a word of the next core's slice
  }
  if (INSTRUMENT && a >= SRAM) {
    violation(V_SRAM, a);
  }
  return sram[(me - band.core0) * SRAM + a];
}

fn sram_st(a: u32, v: f32) {
  if (INSTRUMENT && a >= SRAM) {
    violation(V_SRAM, a);
  }
  sram[(me - band.core0) * SRAM + a] = v;
}

// The core one hop from c in direction d (east, west, south, north), or W*H off the mesh.
fn neighbour(c: u32, d: u32) -> u32 {
  let r = c / W;
  let col = c % W;
  if (d == E && col + 1u < W) { return c + 1u; }
  if (d == WST && col > 0u) { return c - 1u; }
  if (d == S && r + 1u < H) { return c + W; }
  if (d == N && r > 0u) { return c - W; }
  return W * H;
}

fn opposite(d: u32) -> u32 {
  return d ^ 1u;
}

// This core's outgoing register toward d, at step `step`: the word and which item it is.
fn link_wr(d: u32, step: u32, v: f32, item: u32) {
  if (FAULT == 2u && me == 1u && item == 0u) {
    return; // test-only: the word is lost
  }
  let at = (((step & 1u) * W * H + me) * 4u + d) * 4u;
  // A register already written in this step of this round: a second word offered to the link in
  // one step, which it cannot carry (it would need a queue; this write overwrites the first). The
  // schedule is built so that this never happens; this checks it where the words move.
  if (FAULT == 5u && me == 1u && item == 0u) {
    regs[at + 2u] = serial; // test-only: another word of this step already waits in the register
    regs[at + 3u] = step + 1u;
  }
  var depth = 1u;
  if (regs[at + 2u] == serial && regs[at + 3u] == step + 1u) {
    depth = 2u;
  }
  queued = max(queued, depth);
  regs[at] = bitcast<u32>(v);
  regs[at + 1u] = item + 1u;
  regs[at + 2u] = serial;
  regs[at + 3u] = step + 1u;
  sent[d] += 1u;
}

// The word flowing in direction d that the upstream neighbour wrote at step `step − 1`; it must
// be item `item` of this round.
fn link_rd(d: u32, step: u32, item: u32) -> f32 {
  var src = neighbour(me, opposite(d));
  if (FAULT == 1u) {
    let far = neighbour(src, opposite(d));
    if (far < W * H) {
      src = far; // test-only: a register two hops away
    }
  }
  if (INSTRUMENT && (src >= W * H || neighbour(src, d) != me)) {
    violation(V_LINK, src);
  }
  let at = ((((step + 1u) & 1u) * W * H + src) * 4u + d) * 4u;
  if (INSTRUMENT && (regs[at + 1u] != item + 1u || regs[at + 2u] != serial)) {
    violation(V_WORD, at);
  }
  return bitcast<f32>(regs[at]);
}

// Word address of (region, offset) in this core's SRAM.
fn addr(region: u32, offset: u32) -> u32 {
  if (INSTRUMENT && region >= NREG) {
    violation(V_SRAM, region);
  }
  return cores[(me - band.core0) * NREG + min(region, NREG - 1u)] + offset;
}


// A router's set-up for one colour in one round, read from the tables once per round.
struct Flow {
  dir: u32, // the direction it flows (east, west, south, north)
  base: u32, // its first item in the items table
  n: i32, // items it carries at this position
  first: i32, // the stream's first core (position along the line)
  sign: i32, // +1 flowing east or south, −1 west or north
  here: i32, // hops downstream of the stream's first core
  ramp: bool, // whether this router takes its words down the ramp
}

fn flow_of(member: u32, pos: u32) -> Flow {
  let stream = (member & 0x7fffffffu) - 1u;
  let sb = info.o_streams + stream * STREAM_WORDS;
  var n = tables[sb + 1u];
  let per_slot = tables[sb + 4u];
  if (per_slot > 0u) {
    // Items per KV-cache position this row holds up to the one decoded: the row (its index in the
    // block keeping the KV cache, and that block's height: the mesh's row and height unless the
    // placement is layer-pipelined) holds t with t mod height == row.
    let row = tables[sb + 5u];
    let height = tables[sb + 6u];
    var used = 0u;
    if (token.pos >= row) {
      used = (token.pos - row) / height + 1u;
    }
    n = min(n, used * per_slot);
  }
  let first = i32(tables[sb + 2u]);
  let d = tables[sb + 3u];
  let sign = select(-1, 1, d == E || d == S);
  return Flow(d, tables[sb], i32(n), first, sign, (i32(pos) - first) * sign, (member >> 31u) == 1u);
}

// One step of this core's router (and its core, for what comes down the ramp) on one colour. Two
// colours flowing the same way may meet at a core only where one ends and the other starts, so
// each outgoing register has one writer and each incoming one reader (checked when the tables are built).
fn route(f: Flow, step: u32) {
  let k = i32(step) - f.here;
  if (k < 0 || k >= f.n) {
    return;
  }
  let d = f.dir;
  let base = f.base;
  let first = f.first;
  let sign = f.sign;
  let here = f.here;
  let ramp = f.ramp;
  let ib = info.o_items + (base + u32(k)) * ITEM_WORDS;
  let kind = tables[ib];
  let start = (i32(tables[ib + 1u]) - first) * sign;
  let to = (i32(tables[ib + 2u]) - first) * sign;
  if (here < start || here > to) {
    return;
  }
  var v: f32;
  if (here == start) {
    v = sram_ld(addr(tables[ib + 3u], tables[ib + 4u])); // up the ramp
  } else {
    v = link_rd(d, step, u32(k));
    if (ramp) {
      let dst = addr(tables[ib + 5u], tables[ib + 6u]);
      if (kind == K_REDUCE || kind == K_MAX) {
        if (here == to) {
          sram_st(dst, combine(kind, sram_ld(dst), v));
        } else {
          v = combine(kind, v, sram_ld(addr(tables[ib + 3u], tables[ib + 4u])));
        }
        adds += 1u;
      } else {
        sram_st(dst, v);
      }
      ramped += 1u;
    }
  }
  if (here < to || (FAULT == 3u && me == 1u && k == 0 && neighbour(me, d) < W * H)) {
    link_wr(d, step, v, u32(k));
  }
  last_step = step + 1u;
}

// The colours this router carries in the round begun (up to SLOTS, each one way along the line).
var<private> flows: array<Flow, SLOTS>;
var<private> nflows: u32;

// Starts round r on this core: its serial and counts; its local copies when `locals` (the round's
// first step: a reduction's home seeds its result, a gather's origin keeps its own); its colours.
fn begin_round(r: u32, pos: u32, locals: bool) {
  round = r;
  serial = live[r * 4u + 2u];
  sent = array<u32, 4>(0u, 0u, 0u, 0u);
  queued = 0u;
  ramped = 0u;
  adds = 0u;
  last_step = 0u;
  let mb = band.o_members + (r * band.cores + me - band.core0) * MEMBER_WORDS;
  if (locals) {
    let l0 = cores[mb];
    let nl = cores[mb + 1u];
    for (var i = 0u; i < nl; i++) {
      let lb = info.o_locals + (l0 + i) * LOCAL_WORDS;
      sram_st(addr(tables[lb + 3u], tables[lb + 4u]), sram_ld(addr(tables[lb + 1u], tables[lb + 2u])));
    }
  }
  nflows = 0u;
  for (var i = 0u; i < SLOTS; i++) {
    let m = cores[mb + 2u + i];
    if (m != 0u) {
      flows[nflows] = flow_of(m, pos);
      nflows += 1u;
    }
  }
}

// One fabric step of this core's router on every colour it carries.
fn step_round(step: u32) {
  for (var i = 0u; i < nflows; i++) {
    route(flows[i], step);
  }
}

// What this core moved in the round (or in this dispatch's step of it), added to the counters.
fn end_round(r: u32) {
  let rb = C_ROUNDS + ROUND_WORDS * r;
  if (last_step > 0u) {
    atomicMax(&counters[rb], last_step);
  }
  if (queued > 0u) {
    atomicMax(&counters[rb + 4u], queued);
  }
  if (ramped > 0u) {
    atomicAdd(&counters[rb + 1u], ramped);
  }
  if (adds > 0u) {
    atomicAdd(&counters[rb + 2u], adds);
  }
  for (var d = 0u; d < 4u; d++) {
    if (sent[d] > 0u) {
      atomicAdd(&counters[rb + 3u], sent[d]);
      // Only this core writes its own entries, and only one dispatch runs at a time.
      let li = ((info.phase * band.cores) + me - band.core0) * 4u + d;
      links[li] = links[li] + sent[d];
    }
  }
}

// Rounds [first, first + count) looped in one dispatch: the whole mesh as one workgroup (WHOLE),
// or a workgroup per line of the band (a row round) or of the mesh (a column round, one band).
@compute @workgroup_size(LINE)
fn round_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  for (var r = info.first; r < info.first + info.count; r++) {
    let lb = r * 4u;
    if (live[lb + 3u] == 0u) {
      continue;
    }
    let axis_row = live[lb + 1u] == 1u;
    var pos: u32;
    if (WHOLE) {
      me = lid.x;
      pos = select(me / W, me % W, axis_row);
    } else {
      pos = lid.x;
      me = select(pos * W + wid.x, (band.row0 + wid.x) * W + pos, axis_row);
    }
    begin_round(r, pos, true);
    let steps = live[lb];
    for (var step = 0u; step < steps; step++) {
      step_round(step);
      storageBarrier();
      workgroupBarrier();
    }
    end_round(r);
    // The next round reads what this one wrote in other cores' SRAM.
    storageBarrier();
    workgroupBarrier();
  }
}

// One fabric step (`at.step`) of round `info.first` on this band's cores, an invocation per core:
// for lines a workgroup cannot hold. Its local copies run with step 0.
@compute @workgroup_size(LINE)
fn step_main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = info.first;
  let lb = r * 4u;
  if (gid.x >= band.cores || live[lb + 3u] == 0u) {
    return;
  }
  me = band.core0 + gid.x;
  let axis_row = live[lb + 1u] == 1u;
  begin_round(r, select(me / W, me % W, axis_row), at.step == 0u);
  step_round(at.step);
  end_round(r);
}
