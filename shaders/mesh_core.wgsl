// mesh_core: the wafer's cores computing, one invocation per core, between fabric phases
// (shaders/fabric.wgsl moves every word between neighbours). A core here reads and writes only its
// own SRAM slice (its band's sram[(core − first core) * SRAM, … + SRAM)): what other cores computed reaches it only
// through the fabric, into its own regions (q, k, v, att, hb, hb2, the scores, the statistics).
// Shapes: core table `table` (band cores, CT) u32; index lists `idx` u32; `sram` (band cores, SRAM) f32.

// W, H and NL are the mesh's and the model's; a core's row, column, block height and layers come
// from its core table (its block's: the whole mesh, or one block of a layer-pipelined placement).
override W: u32; // mesh width (cores per row)
override H: u32; // mesh height
override SRAM: u32; // words of SRAM per core
override DIM: u32;
override NH: u32; // query heads (≤ MAX_HEADS)
override HS: u32; // head size
override NL: u32; // layers
override INSTRUMENT: bool = false; // count out-of-slice accesses and FLOPs into `counters`
override WG: u32 = 64; // cores per workgroup

// The core table's field indices (F_*, CT words per core), the stats layout (S_*), the owner
// tables' offsets in `idx` (O_*) and MAX_HEADS are generated from src/mesh/image.ts and put
// before this file at pipeline creation. Counters: [0] out-of-slice accesses, [1 + core] FLOPs.
const C_FLOPS = 1u;

struct Step {
  pos: u32,
  token: u32, // the host's token (a prompt id, or one it sampled)
  layer: u32,
  wafer_id: u32, // 1: embed the id the wafer found for the token before, not `token`
}

@group(0) @binding(0) var<storage, read_write> sram: array<f32>; // (band cores, SRAM)
@group(0) @binding(1) var<storage, read> table: array<u32>; // (band cores, CT)
@group(0) @binding(2) var<storage, read> idx: array<u32>; // per-core index lists, owner tables
@group(0) @binding(3) var<storage, read_write> counters: array<atomic<u32>>;
// The shard this dispatch runs: rows of the mesh whose SRAM and core table are `sram` and `table`
// (a mesh too large for one binding is split into bands of rows, one dispatch per band).
struct Band {
  core0: u32, // its first core
  cores: u32, // its cores
  pad0: u32,
  pad1: u32,
}
@group(0) @binding(4) var<uniform> band: Band;
@group(1) @binding(0) var<uniform> stepInfo: Step;

var<private> me: u32;
var<private> flops: u32;

fn mt(f: u32) -> u32 {
  return table[(me - band.core0) * CT + f];
}

// Own SRAM: word a of this core's slice.
fn ld(a: u32) -> f32 {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
  }
  return sram[(me - band.core0) * SRAM + min(a, SRAM - 1u)];
}
fn st(a: u32, v: f32) {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
    return;
  }
  sram[(me - band.core0) * SRAM + a] = v;
}

fn finish() {
  if (INSTRUMENT) {
    atomicAdd(&counters[C_FLOPS + me], flops);
  }
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

// xb = weight * (x / sqrt(mean(x²) + 1e-5)) over this core's dim slice; Σx² came over the fabric.
fn rmsnorm(weight: u32) {
  let ss = ld(mt(F_STATS) + S_SUMSQ_ALL);
  let scale = 1.0 / sqrt(ss / f32(DIM) + 1e-5);
  let nd = mt(F_N_DIM);
  for (var j = 0u; j < nd; j++) {
    st(mt(F_XB) + j, ld(weight + j) * (scale * ld(mt(F_X) + j)));
  }
  flops += 3u * nd;
}

// A core belongs to a block of cores that holds layers [layerFirst, layerFirst + layerCount) and
// keeps their KV cache: the whole mesh (all layers), or one block of a layer-pipelined placement.
// Its row, column and the block's height (F_ROW, F_COL, F_BLOCK_H) are counted within the block.

// The step's layer among the core's own: its index in the core's layer regions and KV cache.
fn localLayer() -> u32 {
  return stepInfo.layer - mt(F_LAYER_FIRST);
}

// Whether the step's layer is one of this core's (a layer's passes run on its block only).
fn layerHere() -> bool {
  return stepInfo.layer >= mt(F_LAYER_FIRST) && stepInfo.layer < mt(F_LAYER_FIRST) + mt(F_LAYER_COUNT);
}

// Whether this core's block holds the embedding (role bit 1) or the head (bit 2).
fn roleHere(bit: u32) -> bool {
  return (mt(F_BLOCK_ROLE) & bit) != 0u;
}

fn layerBase() -> u32 {
  return mt(F_LAYER0) + localLayer() * mt(F_LAYER_STRIDE);
}

// Positions ≤ pos this core's row holds (position t lives in row t mod the block's height).
fn usedSlots() -> u32 {
  let r = mt(F_ROW);
  if (stepInfo.pos < r) {
    return 0u;
  }
  return (stepInfo.pos - r) / mt(F_BLOCK_H) + 1u;
}

// The KV-cache word of the step's layer at slot s (K then V of one layer at one position: 2·nKv words).
fn kvBase(s: u32) -> u32 {
  return mt(F_KV) + (s * mt(F_LAYER_COUNT) + localLayer()) * 2u * mt(F_N_KV);
}

// Scores are kept [local head][slot]: word of head h at slot s.
fn scoreAt(base: u32, h: u32, s: u32) -> u32 {
  return base + (h - mt(F_HEAD_LO)) * mt(F_SLOTS) + s;
}

fn sumsq() {
  let nd = mt(F_N_DIM);
  var ss = 0.0;
  for (var j = 0u; j < nd; j++) {
    let x = ld(mt(F_X) + j);
    ss += x * x;
  }
  st(mt(F_STATS) + S_SUMSQ, ss);
  flops += 2u * nd;
}

// The cores of the row holding the token's embedding row copy their slice of it into x, the others
// zeros (the fabric then sums x down every column). The token is the host's, or the id the wafer
// found for the token before (kept in every core's stats by the last fabric phase).
@compute @workgroup_size(WG)
fn embed_load(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !roleHere(1u)) {
    return;
  }
  var tok = stepInfo.token;
  if (stepInfo.wafer_id == 1u) {
    tok = u32(-ld(mt(F_STATS) + S_PICK_ALL));
  }
  let nd = mt(F_N_DIM);
  let mine = idx[O_ROW_VOCAB + tok] == mt(F_ROW);
  for (var j = 0u; j < nd; j++) {
    var v = 0.0;
    if (mine) {
      v = ld(mt(F_EMBEDDING) + (tok - mt(F_LO_VOCAB)) * nd + j);
    }
    st(mt(F_X) + j, v);
  }
  finish();
}

@compute @workgroup_size(WG)
fn embed_sumsq(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !roleHere(1u)) {
    return;
  }
  sumsq();
  finish();
}

// Σx² of the x a block has just received from the block before it (a layer-pipelined placement),
// on the block holding the step's layer: what its first layer's norm needs.
@compute @workgroup_size(WG)
fn block_sumsq(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  sumsq();
  finish();
}

// rmsnorm; q, k, v tile products into `partial` (the fabric reduces them along the row).
@compute @workgroup_size(WG)
fn qkv(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
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

// RoPE on the gathered q and k; the owner row stores k, v in its KV cache; partial attention
// scores of this core's positions over its coordinates.
@compute @workgroup_size(WG)
fn scores(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  let nd = mt(F_N_DIM);
  let nk = mt(F_N_KV);
  for (var j = 0u; j < nd; j += 2u) {
    ropePair(mt(F_Q) + j, idx[mt(F_IDX_DIM) + j]);
  }
  for (var j = 0u; j < nk; j += 2u) {
    ropePair(mt(F_K) + j, idx[mt(F_IDX_KV) + j]);
  }
  flops += 3u * nd + 3u * nk;
  let bh = mt(F_BLOCK_H);
  if (stepInfo.pos % bh == mt(F_ROW)) {
    let kb = kvBase(stepInfo.pos / bh);
    for (var j = 0u; j < nk; j++) {
      st(kb + j, ld(mt(F_K) + j));
      st(kb + nk + j, ld(mt(F_V) + j));
    }
  }
  let used = usedSlots();
  let nhl = mt(F_N_HEADS);
  for (var s = 0u; s < used; s++) {
    let kb = kvBase(s);
    for (var hl = 0u; hl < nhl; hl++) {
      st(scoreAt(mt(F_SCORES), mt(F_HEAD_LO) + hl, s), 0.0);
    }
    for (var j = 0u; j < nd; j++) {
      let a = scoreAt(mt(F_SCORES), idx[mt(F_IDX_DIM) + j] / HS, s);
      st(a, ld(a) + ld(mt(F_Q) + j) * ld(kb + idx[mt(F_IDX_KV_POS) + j]));
    }
  }
  flops += 2u * nd * used;
  finish();
}

// With the row-reduced scores: per head, this row's maximum, Σ exp, and the exp-weighted sum of
// its values over this core's coordinates.
@compute @workgroup_size(WG)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  let used = usedSlots();
  let inv = 1.0 / sqrt(f32(HS));
  let nd = mt(F_N_DIM);
  let hLo = mt(F_HEAD_LO);
  let nhl = mt(F_N_HEADS);
  for (var h = 0u; h < NH; h++) {
    st(mt(F_STATS) + S_MAX + h, -3.0e38);
    st(mt(F_STATS) + S_MAX + NH + h, 0.0);
  }
  for (var h = hLo; h < hLo + nhl; h++) {
    var m = -3.0e38;
    for (var s = 0u; s < used; s++) {
      m = max(m, ld(scoreAt(mt(F_SCORES_ALL), h, s)) * inv);
    }
    var l = 0.0;
    for (var s = 0u; s < used; s++) {
      let a = scoreAt(mt(F_SCORES_ALL), h, s);
      let p = exp(ld(a) * inv - m);
      st(a, p);
      l += p;
    }
    st(mt(F_STATS) + S_MAX + h, m);
    st(mt(F_STATS) + S_MAX + NH + h, l);
    flops += 4u * used;
  }
  for (var j = 0u; j < nd; j++) {
    let h = idx[mt(F_IDX_DIM) + j] / HS;
    let vo = mt(F_N_KV) + idx[mt(F_IDX_KV_POS) + j];
    var o = 0.0;
    for (var s = 0u; s < used; s++) {
      o += ld(scoreAt(mt(F_SCORES_ALL), h, s)) * ld(kvBase(s) + vo);
    }
    st(mt(F_ATT_O) + j, o);
  }
  flops += 2u * nd * used;
  finish();
}

// The column's maximum per head came over the fabric (into the head's scoresAll slot 0): rescale
// this row's Σ exp and weighted values to it.
@compute @workgroup_size(WG)
fn rescale(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  let hLo = mt(F_HEAD_LO);
  let nhl = mt(F_N_HEADS);
  var f: array<f32, MAX_HEADS>;
  for (var h = hLo; h < hLo + nhl; h++) {
    f[h] = exp(ld(mt(F_STATS) + S_MAX + h) - ld(scoreAt(mt(F_SCORES_ALL), h, 0u)));
    st(mt(F_STATS) + S_MAX + NH + h, ld(mt(F_STATS) + S_MAX + NH + h) * f[h]);
  }
  let nd = mt(F_N_DIM);
  for (var j = 0u; j < nd; j++) {
    let h = idx[mt(F_IDX_DIM) + j] / HS;
    st(mt(F_ATT_O) + j, ld(mt(F_ATT_O) + j) * f[h]);
  }
  flops += 3u * nhl + nd;
  finish();
}

// The column's sums came over the fabric (Σ exp into the head's scores slot 0, values into att):
// normalise; wo tile product.
@compute @workgroup_size(WG)
fn wo(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  let nd = mt(F_N_DIM);
  for (var j = 0u; j < nd; j++) {
    let h = idx[mt(F_IDX_DIM) + j] / HS;
    st(mt(F_ATT) + j, ld(mt(F_ATT) + j) / ld(scoreAt(mt(F_SCORES), h, 0u)));
  }
  flops += nd;
  let lb = layerBase();
  tile(lb + mt(F_WO), mt(F_ROWS_DIM), nd, mt(F_ATT), mt(F_PARTIAL));
  finish();
}

// Residual add of the gathered dim vector (in att), then Σx².
@compute @workgroup_size(WG)
fn residual(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  let nd = mt(F_N_DIM);
  for (var j = 0u; j < nd; j++) {
    st(mt(F_X) + j, ld(mt(F_X) + j) + ld(mt(F_ATT) + j));
  }
  flops += nd;
  sumsq();
  finish();
}

// rmsnorm; w1 and w3 tile products.
@compute @workgroup_size(WG)
fn w13(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
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

// SwiGLU of the gathered w1 (hb) and w3 (hb2) outputs; w2 tile product.
@compute @workgroup_size(WG)
fn w2(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !layerHere()) {
    return;
  }
  let nh = mt(F_N_HID);
  for (var j = 0u; j < nh; j++) {
    let a = ld(mt(F_HB) + j);
    st(mt(F_HB) + j, (a / (1.0 + exp(-a))) * ld(mt(F_HB2) + j));
  }
  flops += 5u * nh;
  let lb = layerBase();
  tile(lb + mt(F_W2), mt(F_ROWS_DIM), nh, mt(F_HB), mt(F_PARTIAL_B));
  finish();
}

// Final rmsnorm; classifier tile product (the fabric reduces it to column 0).
@compute @workgroup_size(WG)
fn classifier(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !roleHere(2u)) {
    return;
  }
  rmsnorm(mt(F_RMS_FINAL));
  tile(mt(F_WCLS), mt(F_ROWS_VOCAB), mt(F_N_DIM), mt(F_XB), mt(F_PARTIAL));
  finish();
}

// Inf or NaN: every exponent bit set (a bit test, which no compiler folds away).
fn not_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// Greedy decoding on the wafer, step 1: column 0 holds the logits (its row's vocabulary slice);
// each of its cores finds its slice's largest finite logit and whether any was not finite (the
// fabric then takes the maximum of both down column 0).
@compute @workgroup_size(WG)
fn argmax_local(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !roleHere(2u) || mt(F_COL) != 0u) {
    return;
  }
  // The lowest f32 for a slice with no finite logit; otherwise the largest logit itself (so a
  // maximum below any marker is still found).
  var best = -3.4028234e38;
  var found = false;
  var bad = 0.0;
  let n = mt(F_ROWS_VOCAB);
  for (var i = 0u; i < n; i++) {
    let v = ld(mt(F_LOGITS) + i);
    if (not_finite(v)) {
      bad = 1.0;
    } else if (!found || v > best) {
      best = v;
      found = true;
    }
  }
  st(mt(F_STATS) + S_BEST, best);
  st(mt(F_STATS) + S_BAD, bad);
  flops += n;
  finish();
}

// Step 2, with the column's maximum and flag: −(the vocabulary index of this slice's first logit
// equal to the maximum), so that the fabric's max-reduce down column 0 finds the first maximum as
// the CPU's argmax does; +1 where a logit was not finite; −3e38 where this slice has no maximum.
@compute @workgroup_size(WG)
fn argmax_pick(@builtin(global_invocation_id) gid: vec3<u32>) {
  me = band.core0 + gid.x;
  if (gid.x >= band.cores || !roleHere(2u) || mt(F_COL) != 0u) {
    return;
  }
  let best = ld(mt(F_STATS) + S_BEST_ALL);
  var pick = -3.0e38;
  let n = mt(F_ROWS_VOCAB);
  for (var i = 0u; i < n; i++) {
    if (ld(mt(F_LOGITS) + i) == best) {
      pick = -f32(mt(F_LO_VOCAB) + i);
      break;
    }
  }
  if (ld(mt(F_STATS) + S_BAD_ALL) > 0.0) {
    pick = 1.0;
  }
  st(mt(F_STATS) + S_PICK, pick);
  flops += n;
  finish();
}
