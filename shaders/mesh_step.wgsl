// mesh_step: the wafer's cores, one invocation per core, running one pass of the wafer program.
// A pass is a routed transfer (a collective along rows or columns) followed by the local compute
// it feeds; each entry point below is one kind of pass. Every core's SRAM is the fixed slice
// sram[core * SRAM, (core + 1) * SRAM) (SRAM words). Local compute reads and writes only its own
// slice (ld/st); a transfer reads other cores' slices only through `remote`, exactly in the order
// the collective combines them (a chain for "ring", a binary tree for "tree"), so the arithmetic
// is the algorithm's. No workgroup memory, no barriers: passes are separated by the dispatch.
// Shapes: core table `table` (W*H, CT) u32; index lists `idx` u32; `sram` (W*H, SRAM) f32.

override W: u32; // mesh width (cores per row)
override H: u32; // mesh height
override SRAM: u32; // words of SRAM per core
override DIM: u32;
override KVD: u32;
override HID: u32;
override VOCAB: u32;
override NH: u32; // query heads (≤ MAX_HEADS)
override KVMUL: u32; // query heads per KV head
override HS: u32; // head size
override NL: u32; // layers
override TREE: bool = true; // allreduce order: binary tree, else chain ("ring")
override INSTRUMENT: bool = false; // count accesses, remote reads and FLOPs into `counters`
override NCC: u32 = 1; // cores covered by the instrumented read matrix
override WG: u32 = 64; // cores per workgroup (software drivers run one workgroup per thread)

// The core table's field indices (F_*, CT words per core), the stats layout (S_*), the owner
// tables' offsets in `idx` (O_*), MAX_HEADS and TREE_STACK are generated from src/mesh/image.ts
// and put before this file at pipeline creation.
// Instrumented counters: [0] out-of-slice accesses, [1 + core] FLOPs, then reads[dst * NCC + src].
const C_FLOPS = 1u;

struct Step {
  pos: u32,
  token: u32,
  layer: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read_write> sram: array<f32>; // (W*H, SRAM)
@group(0) @binding(1) var<storage, read> table: array<u32>; // (W*H, CT)
@group(0) @binding(2) var<storage, read> idx: array<u32>; // per-core index lists
@group(0) @binding(3) var<storage, read_write> counters: array<atomic<u32>>;
@group(1) @binding(0) var<uniform> stepInfo: Step;

var<private> me: u32;
var<private> flops: u32;

fn t(core: u32, f: u32) -> u32 {
  return table[core * CT + f];
}
fn mt(f: u32) -> u32 {
  return table[me * CT + f];
}

// Own SRAM: word a of this core's slice.
fn ld(a: u32) -> f32 {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
  }
  return sram[me * SRAM + a];
}
fn st(a: u32, v: f32) {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
  }
  sram[me * SRAM + a] = v;
}
// Another core's word, delivered by the fabric (only transfers call this).
fn remote(core: u32, a: u32) -> f32 {
  if (INSTRUMENT) {
    if (a >= SRAM || core >= W * H) {
      atomicAdd(&counters[0], 1u);
    }
    if (me < NCC && core < NCC) {
      atomicAdd(&counters[1u + NCC + me * NCC + core], 1u);
    }
  }
  return sram[core * SRAM + a];
}

// Which mesh column's slice of a dim vector holds coordinate i (the placement's owner table).
fn colOfDim(i: u32) -> u32 {
  return idx[O_COL_DIM + i];
}

// Which mesh row's slice holds element i of a vector whose owner table starts at `table`.
fn rowOf(i: u32, table: u32) -> u32 {
  return idx[table + i];
}

// One core's contribution to a line sum: its word at (field f + j), or for the attention's
// softmax-combine that word scaled by exp(its max for head h − the column's max `big`).
// For the scores, j is the slot and the word is the source's own index of (slot j, head h); a
// core inside a head's columns that holds none of its coordinates contributes nothing.
fn term(src: u32, f: u32, j: u32, combine: bool, h: u32, big: f32) -> f32 {
  var jj = j;
  if (f == F_SCORES) {
    let lo = t(src, F_HEAD_LO);
    let n = t(src, F_N_HEADS);
    if (h < lo || h >= lo + n) {
      return 0.0;
    }
    jj = j * n + h - lo;
  }
  let v = remote(src, t(src, f) + jj);
  if (combine) {
    return v * exp(remote(src, t(src, F_STATS) + S_MAX + h) - big);
  }
  return v;
}

// Σ of the terms of n cores start, start+stride, …, in the collective's order: a chain
// ((p0 + p1) + p2) … for "ring"; for "tree", the binary tree of recursive doubling, built as a
// binary counter: after i+1 terms the stack holds one partial per set bit of i+1, so term i
// merges countTrailingZeros(i+1) times.
fn lineSum(start: u32, stride: u32, n: u32, f: u32, j: u32, combine: bool, h: u32, big: f32) -> f32 {
  if (!TREE) {
    var s = 0.0;
    for (var i = 0u; i < n; i++) {
      s += term(start + i * stride, f, j, combine, h, big);
    }
    return s;
  }
  var vals: array<f32, TREE_STACK>;
  var top = 0u;
  for (var i = 0u; i < n; i++) {
    var v = term(start + i * stride, f, j, combine, h, big);
    let merges = countTrailingZeros(i + 1u);
    for (var k = 0u; k < merges; k++) {
      top -= 1u;
      v = vals[top] + v;
    }
    vals[top] = v;
    top += 1u;
  }
  var acc = vals[top - 1u];
  for (var k = top - 1u; k > 0u; k--) {
    acc = vals[k - 1u] + acc;
  }
  return acc;
}

fn rowSum(row: u32, f: u32, j: u32) -> f32 {
  return lineSum(row * W, 1u, W, f, j, false, 0u, 0.0);
}

// Column softmax-combine: Σ over the column's cores of value(field f + j) · exp(m_h − big).
fn colCombine(f: u32, j: u32, h: u32, big: f32) -> f32 {
  return lineSum(me % W, W, H, f, j, true, h, big);
}

// Tile (rows, n) at `w` @ own vector at `x` (n,) -> own `out` (rows,).
fn tile(w: u32, rows: u32, n: u32, x: u32, out: u32) {
  for (var i = 0u; i < rows; i++) {
    var s = 0.0;
    for (var j = 0u; j < n; j++) {
      s += ld(w + i * n + j) * ld(x + j);
    }
    st(out + i, s);
  }
  flops += 2u * rows * n;
}

// xb = weight * (x / sqrt(mean(x²) + 1e-5)) over this core's dim slice; Σx² is row-reduced.
fn rmsnorm(weight: u32) {
  let ss = rowSum(me / W, F_STATS, S_SUMSQ);
  let scale = 1.0 / sqrt(ss / f32(DIM) + 1e-5);
  let nd = mt(F_N_DIM);
  for (var j = 0u; j < nd; j++) {
    st(mt(F_XB) + j, ld(weight + j) * (scale * ld(mt(F_X) + j)));
  }
  flops += 3u * nd;
}

fn layerBase() -> u32 {
  return mt(F_LAYER0) + stepInfo.layer * mt(F_LAYER_STRIDE);
}

// Positions ≤ pos this core's row holds (position t lives in row t mod H).
fn usedSlots() -> u32 {
  let r = me / W;
  if (stepInfo.pos < r) {
    return 0u;
  }
  return (stepInfo.pos - r) / H + 1u;
}

// The row-reduced element i of a vector (owner table `table`) whose row slices sit at `skip`
// words into `partial`.
fn gathered(i: u32, table: u32, loField: u32, skip: u32) -> f32 {
  let rr = rowOf(i, table);
  let lead = rr * W;
  return rowSum(rr, F_PARTIAL, skip + i - t(lead, loField));
}

fn finish() {
  if (INSTRUMENT) {
    atomicAdd(&counters[C_FLOPS + me], flops);
  }
}

// Residual add of the row-reduced, column-gathered dim vector at `part`, then Σx² of x.
fn residual(part: u32) {
  let nd = mt(F_N_DIM);
  var ss = 0.0;
  for (var j = 0u; j < nd; j++) {
    let i = idx[mt(F_IDX_DIM) + j];
    let rr = rowOf(i, O_ROW_DIM);
    let v = rowSum(rr, part, i - t(rr * W, F_LO_DIM));
    let x = ld(mt(F_X) + j) + v;
    st(mt(F_X) + j, x);
    ss += x * x;
  }
  st(mt(F_STATS) + S_SUMSQ, ss);
  flops += 3u * nd;
}

// Transfer: the token's row broadcasts its embedding slice down each column. Compute: Σx².
@compute @workgroup_size(WG)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let tok = stepInfo.token;
  let src = rowOf(tok, O_ROW_VOCAB) * W + me % W;
  let nd = mt(F_N_DIM);
  let row = (tok - t(src, F_LO_VOCAB)) * nd;
  var ss = 0.0;
  for (var j = 0u; j < nd; j++) {
    let v = remote(src, t(src, F_EMBEDDING) + row + j);
    st(mt(F_X) + j, v);
    ss += v * v;
  }
  st(mt(F_STATS) + S_SUMSQ, ss);
  flops += 2u * nd;
  finish();
}

// Transfer: row allreduce of Σx². Compute: rmsnorm; q, k, v tile products into `partial`.
@compute @workgroup_size(WG)
fn qkv(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let lb = layerBase();
  rmsnorm(lb + mt(F_RMS_ATT));
  let nd = mt(F_N_DIM);
  let rd = mt(F_ROWS_DIM);
  let rk = mt(F_ROWS_KV);
  tile(lb + mt(F_WQ), rd, nd, mt(F_XB), mt(F_PARTIAL));
  tile(lb + mt(F_WK), rk, nd, mt(F_XB), mt(F_PARTIAL) + rd);
  tile(lb + mt(F_WV), rk, nd, mt(F_XB), mt(F_PARTIAL) + rd + rk);
  finish();
}

fn ropePair(a: u32, i: u32) {
  let freq = 1.0 / pow(10000.0, f32(i % HS) / f32(HS));
  let angle = f32(stepInfo.pos) * freq;
  let c = cos(angle);
  let s = sin(angle);
  let v0 = ld(a);
  let v1 = ld(a + 1u);
  st(a, v0 * c - v1 * s);
  st(a + 1u, v0 * s + v1 * c);
}

// Transfer: row reduction + column gather of q, k, v. Compute: RoPE; the owner row stores k, v
// in its KV cache; partial attention scores of this core's positions over its coordinates.
@compute @workgroup_size(WG)
fn scores(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let nd = mt(F_N_DIM);
  let nk = mt(F_N_KV);
  for (var j = 0u; j < nd; j++) {
    let i = idx[mt(F_IDX_DIM) + j];
    st(mt(F_Q) + j, gathered(i, O_ROW_DIM, F_LO_DIM, 0u));
  }
  for (var j = 0u; j < nk; j++) {
    let i = idx[mt(F_IDX_KV) + j];
    let lead = rowOf(i, O_ROW_KV) * W;
    let rd = t(lead, F_ROWS_DIM);
    st(mt(F_K) + j, gathered(i, O_ROW_KV, F_LO_KV, rd));
    st(mt(F_V) + j, gathered(i, O_ROW_KV, F_LO_KV, rd + t(lead, F_ROWS_KV)));
  }
  for (var j = 0u; j < nd; j += 2u) {
    ropePair(mt(F_Q) + j, idx[mt(F_IDX_DIM) + j]);
  }
  for (var j = 0u; j < nk; j += 2u) {
    ropePair(mt(F_K) + j, idx[mt(F_IDX_KV) + j]);
  }
  flops += 3u * nd + 3u * nk;
  let r = me / W;
  let kvStride = 2u * nk; // K then V of one layer at one position
  if (stepInfo.pos % H == r) {
    let slot = stepInfo.pos / H;
    let kb = mt(F_KV) + (slot * NL + stepInfo.layer) * kvStride;
    for (var j = 0u; j < nk; j++) {
      st(kb + j, ld(mt(F_K) + j));
      st(kb + nk + j, ld(mt(F_V) + j));
    }
  }
  let used = usedSlots();
  for (var s = 0u; s < used; s++) {
    let kb = mt(F_KV) + (s * NL + stepInfo.layer) * kvStride;
    let nhl = mt(F_N_HEADS);
    for (var h = 0u; h < nhl; h++) {
      st(mt(F_SCORES) + s * nhl + h, 0.0);
    }
    for (var j = 0u; j < nd; j++) {
      let h = idx[mt(F_IDX_DIM) + j] / HS;
      let a = mt(F_SCORES) + s * nhl + h - mt(F_HEAD_LO);
      st(a, ld(a) + ld(mt(F_Q) + j) * ld(kb + idx[mt(F_IDX_KV_POS) + j]));
    }
  }
  flops += 2u * nd * used;
  finish();
}

// Transfer: row reduction of the scores. Compute: per head, this row's maximum, Σ exp and the
// exp-weighted sum of its values over this core's coordinates.
@compute @workgroup_size(WG)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let r = me / W;
  let used = usedSlots();
  let inv = 1.0 / sqrt(f32(HS));
  let nd = mt(F_N_DIM);
  // The heads this core's coordinates belong to, and for each the row segment of columns it spans.
  var hLo = 1u;
  var hHi = 0u;
  if (nd > 0u) {
    hLo = idx[mt(F_IDX_DIM)] / HS;
    hHi = idx[mt(F_IDX_DIM) + nd - 1u] / HS;
  }
  let nhl = mt(F_N_HEADS); // hHi − hLo + 1 (0 without coordinates): scores are kept for these heads only
  for (var h = 0u; h < NH; h++) {
    st(mt(F_STATS) + S_MAX + h, -3.0e38);
    st(mt(F_STATS) + S_MAX + NH + h, 0.0);
  }
  for (var h = hLo; h <= hHi; h++) {
    let c0 = colOfDim(h * HS);
    let c1 = colOfDim(h * HS + HS - 1u) + 1u;
    for (var s = 0u; s < used; s++) {
      st(mt(F_SCORES_ALL) + s * nhl + h - hLo, lineSum(r * W + c0, 1u, c1 - c0, F_SCORES, s, false, h, 0.0) * inv);
    }
  }
  for (var h = hLo; h <= hHi; h++) {
    var m = -3.0e38;
    for (var s = 0u; s < used; s++) {
      m = max(m, ld(mt(F_SCORES_ALL) + s * nhl + h - hLo));
    }
    var l = 0.0;
    for (var s = 0u; s < used; s++) {
      let a = mt(F_SCORES_ALL) + s * nhl + h - hLo;
      let p = exp(ld(a) - m);
      st(a, p);
      l += p;
    }
    st(mt(F_STATS) + S_MAX + h, m);
    st(mt(F_STATS) + S_MAX + NH + h, l);
    flops += 3u * used;
  }
  let kvStride = 2u * mt(F_N_KV);
  for (var j = 0u; j < nd; j++) {
    let h = idx[mt(F_IDX_DIM) + j] / HS;
    let vo = mt(F_N_KV) + idx[mt(F_IDX_KV_POS) + j];
    var o = 0.0;
    for (var s = 0u; s < used; s++) {
      o += ld(mt(F_SCORES_ALL) + s * nhl + h - hLo) * ld(mt(F_KV) + (s * NL + stepInfo.layer) * kvStride + vo);
    }
    st(mt(F_ATT_O) + j, o);
  }
  flops += 2u * nd * used;
  finish();
}

// Transfer: column softmax-combine of (max, Σ exp, weighted values). Compute: wo tile product.
@compute @workgroup_size(WG)
fn wo(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let c = me % W;
  var big: array<f32, MAX_HEADS>;
  var sums: array<f32, MAX_HEADS>;
  let nd = mt(F_N_DIM);
  var hLo = 1u;
  var hHi = 0u;
  if (nd > 0u) {
    hLo = idx[mt(F_IDX_DIM)] / HS;
    hHi = idx[mt(F_IDX_DIM) + nd - 1u] / HS;
  }
  for (var h = hLo; h <= hHi; h++) {
    var m = -3.0e38;
    for (var r = 0u; r < H; r++) {
      let src = r * W + c;
      m = max(m, remote(src, t(src, F_STATS) + S_MAX + h));
    }
    big[h] = m;
    sums[h] = colCombine(F_STATS, S_MAX + NH + h, h, m);
  }
  for (var j = 0u; j < nd; j++) {
    let h = idx[mt(F_IDX_DIM) + j] / HS;
    st(mt(F_ATT) + j, colCombine(F_ATT_O, j, h, big[h]) / sums[h]);
  }
  let lb = layerBase();
  tile(lb + mt(F_WO), mt(F_ROWS_DIM), nd, mt(F_ATT), mt(F_PARTIAL));
  finish();
}

// Transfer: row reduction + column gather of wo's products. Compute: residual; Σx².
@compute @workgroup_size(WG)
fn residual_attn(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  residual(F_PARTIAL);
  finish();
}

// Transfer: row allreduce of Σx². Compute: rmsnorm; w1 and w3 tile products.
@compute @workgroup_size(WG)
fn w13(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let lb = layerBase();
  rmsnorm(lb + mt(F_RMS_FFN));
  let nd = mt(F_N_DIM);
  let rh = mt(F_ROWS_HID);
  tile(lb + mt(F_W1), rh, nd, mt(F_XB), mt(F_PARTIAL));
  tile(lb + mt(F_W3), rh, nd, mt(F_XB), mt(F_PARTIAL) + rh);
  finish();
}

// Transfer: row reduction + column gather of w1, w3. Compute: SwiGLU; w2 tile product.
@compute @workgroup_size(WG)
fn w2(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let nh = mt(F_N_HID);
  for (var j = 0u; j < nh; j++) {
    let i = idx[mt(F_IDX_HID) + j];
    let lead = rowOf(i, O_ROW_HIDDEN) * W;
    let a = gathered(i, O_ROW_HIDDEN, F_LO_HID, 0u);
    let b = gathered(i, O_ROW_HIDDEN, F_LO_HID, t(lead, F_ROWS_HID));
    st(mt(F_HB2) + j, b);
    st(mt(F_HB) + j, (a / (1.0 + exp(-a))) * b);
  }
  flops += 5u * nh;
  let lb = layerBase();
  tile(lb + mt(F_W2), mt(F_ROWS_DIM), nh, mt(F_HB), mt(F_PARTIAL_B));
  finish();
}

// Transfer: row reduction + column gather of w2's products. Compute: residual; Σx².
@compute @workgroup_size(WG)
fn residual_ffn(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  residual(F_PARTIAL_B);
  finish();
}

// Transfer: row allreduce of Σx². Compute: final rmsnorm; classifier tile product.
@compute @workgroup_size(WG)
fn classifier(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  rmsnorm(mt(F_RMS_FINAL));
  tile(mt(F_WCLS), mt(F_ROWS_VOCAB), mt(F_N_DIM), mt(F_XB), mt(F_PARTIAL));
  finish();
}

// Transfer: row reduction of the logits; every core of row r then holds logits of its row slice.
@compute @workgroup_size(WG)
fn logits(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = gid.x;
  if (me >= W * H) {
    return;
  }
  let rv = mt(F_ROWS_VOCAB);
  for (var e = 0u; e < rv; e++) {
    st(mt(F_LOGITS) + e, rowSum(me / W, F_PARTIAL, e));
  }
  finish();
}
