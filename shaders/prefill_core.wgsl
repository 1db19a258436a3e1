// prefill_core: the cores' own work in the wafer prefill (src/mesh/programs/prefill-fabric.ts),
// between the fabric phases (shaders/fabric.wgsl) and the tile products (shaders/gemm_core.wgsl).
// One invocation per core of the P × P block; a core reads and writes only its own SRAM slice,
// through ld / st: what other cores computed reaches it only through the fabric, into its regions.
// Every pass is one `Op` (a uniform, bound at its own offset): which pass, and its word offsets.
// Shapes: sram (W*H, SRAM) f32; counters u32: [0] accesses outside the slice.
// Tiles are row-major (rows, NT): feature row r, prompt position j·NT + t at word r·NT + t.

override W: u32; // mesh width
override SRAM: u32; // words of SRAM per core
override P: u32; // the block's side
override M: u32; // feature rows per core (whole heads)
override NT: u32; // prompt positions per core
override HS: u32; // head size
override T: u32; // prompt positions in all
override DIM: u32; // the model's true width (RMSNorm's mean)
override OA: u32; // the products' A, B, C slots
override OB: u32;
override OC: u32;
override OSSP: u32; // (NT,) this core's sums of squares
override OSST: u32; // (NT,) the column's sums (after the fabric's allreduce)
override OROPE: u32; // (NT, M/2, 2) cos, sin
override OID: u32; // (2,) this core's logical row and column
override INSTRUMENT: bool = false;

const OP_PREP = 0u; // A ← weight tile p0 (p1 words); B ← p2 (p3 words); C ← 0 (p4 words)
const OP_RMS_PARTIAL = 1u; // SSP[t] = Σ_r X[r, t]² (X at p0)
const OP_RMS_APPLY = 2u; // p2[r, t] = w[r] · (X[r, t] / √(SST[t] / DIM + 1e−5)) (X at p0, w at p1)
const OP_TAKE_C = 3u; // p0[r, t] = C[r, t] for p1 rows, RoPE'd if p2 = 1; if p3 = 1 also to p4 + j·M·NT
const OP_ADD_C = 4u; // p0[i] += C[i], i < p1
const OP_SILU_MUL = 5u; // p0[i] = silu(p0[i]) · C[i], i < p1
const OP_ATTENTION = 6u; // p3[head rows, t] = causal softmax(q·k / √HS) · v (q at p0, all K at p1, all V at p2)

struct Op {
  code: u32,
  p0: u32,
  p1: u32,
  p2: u32,
  p3: u32,
  p4: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> sram: array<f32>;
@group(0) @binding(1) var<storage, read_write> counters: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> op: Op;

var<private> me: u32;

// Own SRAM: word a of this core's slice.
fn ld(a: u32) -> f32 {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
  }
  return sram[me * SRAM + min(a, SRAM - 1u)];
}

fn st(a: u32, v: f32) {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
    return;
  }
  sram[me * SRAM + a] = v;
}

// This core's logical column: its positions are j·NT … j·NT + NT − 1.
fn column() -> u32 {
  return u32(ld(OID + 1u));
}

fn prep() {
  for (var i = 0u; i < op.p1; i++) {
    st(OA + i, ld(op.p0 + i));
  }
  for (var i = 0u; i < op.p3; i++) {
    st(OB + i, ld(op.p2 + i));
  }
  for (var i = 0u; i < op.p4; i++) {
    st(OC + i, 0.0);
  }
}

fn rms_partial() {
  for (var t = 0u; t < NT; t++) {
    var ss = 0.0;
    for (var r = 0u; r < M; r++) {
      let v = ld(op.p0 + r * NT + t);
      ss += v * v;
    }
    st(OSSP + t, ss);
  }
}

fn rms_apply() {
  for (var t = 0u; t < NT; t++) {
    let scale = 1.0 / sqrt(ld(OSST + t) / f32(DIM) + 1e-5);
    for (var r = 0u; r < M; r++) {
      st(op.p2 + r * NT + t, ld(op.p1 + r) * (scale * ld(op.p0 + r * NT + t)));
    }
  }
}

fn take_c() {
  let slot = op.p4 + column() * M * NT;
  for (var t = 0u; t < NT; t++) {
    // RoPE rotates the pairs (r, r + 1), r even (a rotated tile has M rows, M even); a plain copy goes row by row.
    let step = select(1u, 2u, op.p2 == 1u);
    for (var r = 0u; r < op.p1; r += step) {
      var v0 = ld(OC + r * NT + t);
      if (op.p2 == 1u) {
        let v1 = ld(OC + (r + 1u) * NT + t);
        let c = ld(OROPE + (t * (M / 2u) + r / 2u) * 2u);
        let s = ld(OROPE + (t * (M / 2u) + r / 2u) * 2u + 1u);
        let b = v0 * s + v1 * c;
        v0 = v0 * c - v1 * s;
        st(op.p0 + (r + 1u) * NT + t, b);
        if (op.p3 == 1u) {
          st(slot + (r + 1u) * NT + t, b);
        }
      }
      st(op.p0 + r * NT + t, v0);
      if (op.p3 == 1u) {
        st(slot + r * NT + t, v0);
      }
    }
  }
}

fn add_c() {
  for (var i = 0u; i < op.p1; i++) {
    st(op.p0 + i, ld(op.p0 + i) + ld(OC + i));
  }
}

fn silu_mul() {
  for (var i = 0u; i < op.p1; i++) {
    let v = ld(op.p0 + i);
    st(op.p0 + i, (v / (1.0 + exp(-v))) * ld(OC + i));
  }
}

// Key (or value) e of head-row block `h` at prompt position s, from the gathered tiles at `base`.
fn gathered(base: u32, row: u32, s: u32) -> f32 {
  return ld(base + (s / NT) * M * NT + row * NT + s % NT);
}

fn attention() {
  let j = column();
  let scale = 1.0 / sqrt(f32(HS));
  for (var t = 0u; t < NT; t++) {
    let pos = j * NT + t;
    for (var h = 0u; h < M / HS; h++) {
      let r0 = h * HS;
      if (pos >= T) {
        for (var e = 0u; e < HS; e++) {
          st(op.p3 + (r0 + e) * NT + t, 0.0);
        }
        continue;
      }
      // Softmax over positions 0 … pos: the maximum, then the sum of exponentials and the weighted values.
      var mx = -3.0e38;
      for (var s = 0u; s <= pos; s++) {
        var dot = 0.0;
        for (var e = 0u; e < HS; e++) {
          dot += ld(op.p0 + (r0 + e) * NT + t) * gathered(op.p1, r0 + e, s);
        }
        mx = max(mx, dot * scale);
      }
      for (var e = 0u; e < HS; e++) {
        st(op.p3 + (r0 + e) * NT + t, 0.0);
      }
      var sum = 0.0;
      for (var s = 0u; s <= pos; s++) {
        var dot = 0.0;
        for (var e = 0u; e < HS; e++) {
          dot += ld(op.p0 + (r0 + e) * NT + t) * gathered(op.p1, r0 + e, s);
        }
        let p = exp(dot * scale - mx);
        sum += p;
        for (var e = 0u; e < HS; e++) {
          let o = op.p3 + (r0 + e) * NT + t;
          st(o, ld(o) + p * gathered(op.p2, r0 + e, s));
        }
      }
      for (var e = 0u; e < HS; e++) {
        let o = op.p3 + (r0 + e) * NT + t;
        st(o, ld(o) / sum);
      }
    }
  }
}

@compute @workgroup_size(64)
fn core_op(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= P * P) {
    return;
  }
  me = (gid.x / P) * W + gid.x % P;
  switch op.code {
    case OP_PREP: { prep(); }
    case OP_RMS_PARTIAL: { rms_partial(); }
    case OP_RMS_APPLY: { rms_apply(); }
    case OP_TAKE_C: { take_c(); }
    case OP_ADD_C: { add_c(); }
    case OP_SILU_MUL: { silu_mul(); }
    case OP_ATTENTION: { attention(); }
    default: {}
  }
}
