// baseline_prefill: the conventional GPU's prefill — a prompt of T tokens as one batch. Weights
// live in one off-chip buffer (llama2.c's layout, as for the decode); each GEMM invocation holds a
// register tile of TILE_R output rows × TILE_T tokens, so every weight it reads serves a whole tile
// of tokens: the weights stream through once per token tile, not once per token. No workgroup
// memory and no barriers (on lavapipe, tiles staged through workgroup memory ran 2–5× slower, and
// an attention staging k and v blocks there 1.5× slower than one query per invocation).
// The generated prelude sets TILE_T and TILE_R (src/baseline/program.ts, PREFILL_TILE), HEAD (the
// head size) and GROUP (query heads per KV head), which size the register arrays.
// The embedding table is at element 0 of `weights` (llama2.c's order).
// Buffers: weights (checkpoint floats) f32; kv (2, L, SEQ, KVD) f32 (the decode's cache);
// act: x (T, DIM) | xb (T, DIM) | q (T, DIM) | att (T, DIM) | hb (T, HID) | logits (R, VOCAB) |
// scores (T, NH, P) f32, offsets in `batch` (computed in src/engines/gpu-prefill.ts); tokens (T) u32.

// The model's sizes, WG, INSTRUMENT (count off-chip bytes — weights read, KV read, KV written —
// and FLOPs into `counters`) and the tensors' offsets (O_*) are the decode's overrides, declared in
// the prelude generated from their values (src/engines/gpu.ts baselineOverrides).

struct Batch {
  start: u32, // position of the first prompt token
  count: u32, // T
  layer: u32,
  first: u32, // first prompt index whose logits are computed (0, or T − 1)
  positions: u32, // P = start + T: the scores' row length
  o_xb: u32,
  o_q: u32,
  o_att: u32,
  o_hb: u32,
  o_logits: u32,
  o_scores: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<f32>;
@group(0) @binding(1) var<storage, read_write> kv: array<f32>;
@group(0) @binding(2) var<storage, read_write> act: array<f32>;
@group(0) @binding(3) var<storage, read> tokens: array<u32>; // (T,)
// (lo, hi) u32 pairs: [0] weight bytes read, [1] KV bytes read, [2] KV bytes written, [3] FLOPs
@group(0) @binding(4) var<storage, read_write> counters: array<atomic<u32>>;
@group(1) @binding(0) var<uniform> batch: Batch;

var<private> weightReads: u32;
var<private> kvReads: u32;
var<private> kvWrites: u32;
var<private> flops: u32;

fn w(i: u32) -> f32 {
  if (INSTRUMENT) {
    weightReads += 1u;
  }
  return weights[i];
}
fn kvAt(i: u32) -> f32 {
  if (INSTRUMENT) {
    kvReads += 1u;
  }
  return kv[i];
}
fn kvPut(i: u32, v: f32) {
  if (INSTRUMENT) {
    kvWrites += 1u;
  }
  kv[i] = v;
}

// A 64-bit counter as two u32 words: add to the low word, carry into the high one.
fn add64(slot: u32, v: u32) {
  if (v == 0u) {
    return;
  }
  let old = atomicAdd(&counters[2u * slot], v);
  if (old > 0xffffffffu - v) {
    atomicAdd(&counters[2u * slot + 1u], 1u);
  }
}
fn finish() {
  if (INSTRUMENT) {
    add64(0u, 4u * weightReads);
    add64(1u, 4u * kvReads);
    add64(2u, 4u * kvWrites);
    add64(3u, flops);
  }
}

fn kvIndex(which: u32, l: u32, t: u32, i: u32) -> u32 {
  return ((which * NL + l) * SEQ + t) * KVD + i;
}

// The register tile: W rows (element offsets `rows`, the first `valid` of them real) times the
// inputs of tokens 0 … nt−1 of the tile, token t's (k,) input at act[src + t·k]. Returns
// acc[r·TILE_T + t] = W[row r] · input t. Each weight element is read once per call.
fn gemmTile(rows: array<u32, TILE_R>, valid: u32, src: u32, k: u32, nt: u32) -> array<f32, TILE_R * TILE_T> {
  var acc: array<f32, TILE_R * TILE_T>;
  for (var j = 0u; j < k; j++) {
    var wv = array<f32, TILE_R>();
    for (var r = 0u; r < TILE_R; r++) {
      if (r < valid) {
        wv[r] = w(rows[r] + j);
      }
    }
    for (var t = 0u; t < TILE_T; t++) {
      if (t < nt) {
        let xv = act[src + t * k + j];
        for (var r = 0u; r < TILE_R; r++) {
          acc[r * TILE_T + t] += wv[r] * xv;
        }
        if (INSTRUMENT) {
          flops += 2u * valid;
        }
      }
    }
  }
  return acc;
}

// Tokens of this invocation's tile (grid y): the first one and how many (the last tile may be short).
fn tileStart(gid: vec3<u32>) -> u32 {
  return gid.y * TILE_T;
}
fn tileLen(t0: u32, n: u32) -> u32 {
  return min(TILE_T, n - t0);
}

// x[t] = embedding row of tokens[t]
@compute @workgroup_size(WG)
fn pf_embed(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x;
  if (e >= batch.count * DIM) {
    return;
  }
  let t = e / DIM;
  let j = e % DIM;
  act[e] = w(tokens[t] * DIM + j);
  finish();
}

// xb[t − first] = norm ⊙ x[t] / rms(x[t]) for the tile's tokens; each norm weight read once per tile.
fn normTile(tile: u32, norm: u32, first: u32, n: u32) {
  let t0 = tile * TILE_T;
  if (t0 >= n) {
    return;
  }
  let nt = tileLen(t0, n);
  var scale: array<f32, TILE_T>;
  for (var t = 0u; t < nt; t++) {
    let x = (first + t0 + t) * DIM;
    var ss = 0.0;
    for (var j = 0u; j < DIM; j++) {
      ss += act[x + j] * act[x + j];
    }
    scale[t] = 1.0 / sqrt(ss / f32(DIM) + 1e-5);
  }
  for (var j = 0u; j < DIM; j++) {
    let g = w(norm + j);
    for (var t = 0u; t < nt; t++) {
      act[batch.o_xb + (t0 + t) * DIM + j] = g * (scale[t] * act[(first + t0 + t) * DIM + j]);
    }
  }
  finish();
}

@compute @workgroup_size(WG)
fn pf_norm_att(@builtin(global_invocation_id) gid: vec3<u32>) {
  normTile(gid.x, O_RMSATT + batch.layer * DIM, 0u, batch.count);
}

@compute @workgroup_size(WG)
fn pf_norm_ffn(@builtin(global_invocation_id) gid: vec3<u32>) {
  normTile(gid.x, O_RMSFFN + batch.layer * DIM, 0u, batch.count);
}

@compute @workgroup_size(WG)
fn pf_norm_final(@builtin(global_invocation_id) gid: vec3<u32>) {
  normTile(gid.x, O_RMSFINAL, batch.first, batch.count - batch.first);
}

// Row r of the stacked [wq; wk; wv] of layer l.
fn qkvRow(l: u32, r: u32) -> u32 {
  if (r < DIM) {
    return O_WQ + (l * DIM + r) * DIM;
  }
  if (r < DIM + KVD) {
    return O_WK + (l * KVD + r - DIM) * DIM;
  }
  return O_WV + (l * KVD + r - DIM - KVD) * DIM;
}

// q, k, v of the tile's tokens from xb; RoPE on q and k at each token's position; k and v into the
// KV cache. TILE_R is even and the matrices' boundaries are even, so RoPE pairs stay in one tile.
@compute @workgroup_size(WG)
fn pf_qkv(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = DIM + 2u * KVD;
  let r0 = gid.x * TILE_R;
  if (r0 >= n) {
    return;
  }
  let l = batch.layer;
  let t0 = tileStart(gid);
  let nt = tileLen(t0, batch.count);
  let valid = min(TILE_R, n - r0);
  var rows: array<u32, TILE_R>;
  for (var r = 0u; r < valid; r++) {
    rows[r] = qkvRow(l, r0 + r);
  }
  let acc = gemmTile(rows, valid, batch.o_xb + t0 * DIM, DIM, nt);
  for (var r = 0u; r < valid; r += 2u) {
    let row = r0 + r;
    var i = row; // row within its own matrix
    if (row >= DIM + KVD) {
      i = row - DIM - KVD;
    } else if (row >= DIM) {
      i = row - DIM;
    }
    let freq = 1.0 / pow(10000.0, f32(i % HS) / f32(HS));
    for (var t = 0u; t < nt; t++) {
      let pos = batch.start + t0 + t;
      var v0 = acc[r * TILE_T + t];
      var v1 = acc[(r + 1u) * TILE_T + t];
      if (row < DIM + KVD) {
        let angle = f32(pos) * freq;
        let c = cos(angle);
        let s = sin(angle);
        let a = v0 * c - v1 * s;
        let b = v0 * s + v1 * c;
        v0 = a;
        v1 = b;
      }
      if (row < DIM) {
        act[batch.o_q + (t0 + t) * DIM + i] = v0;
        act[batch.o_q + (t0 + t) * DIM + i + 1u] = v1;
      } else if (row < DIM + KVD) {
        kvPut(kvIndex(0u, l, pos, i), v0);
        kvPut(kvIndex(0u, l, pos, i + 1u), v1);
      } else {
        kvPut(kvIndex(1u, l, pos, i), v0);
        kvPut(kvIndex(1u, l, pos, i + 1u), v1);
      }
    }
  }
  finish();
}

fn scoreIndex(t: u32, h: u32, p: u32) -> u32 {
  return batch.o_scores + (t * NH + h) * batch.positions + p;
}

// Causal attention for one query (prompt index t, at position start+t) and one KV head with the
// KVMUL query heads sharing it: scores against positions 0 … start+t, softmax, and the weighted
// sum of the values, accumulated in registers (HEAD and GROUP, the head size and KVMUL, come from
// the prelude to size them). Each query reads the cached k and v it attends to.
@compute @workgroup_size(WG)
fn pf_attention(@builtin(global_invocation_id) gid: vec3<u32>) {
  let groups = NH / KVMUL;
  if (gid.x >= batch.count * groups) {
    return;
  }
  // Neighbouring invocations take neighbouring queries of one KV head: they read the same k and v.
  let g = gid.x / batch.count;
  let t = gid.x % batch.count;
  let l = batch.layer;
  let n = batch.start + t + 1u; // positions this query sees
  let inv = 1.0 / sqrt(f32(HS));
  var q: array<f32, GROUP * HEAD>;
  for (var m = 0u; m < GROUP; m++) {
    for (var i = 0u; i < HEAD; i++) {
      q[m * HEAD + i] = act[batch.o_q + t * DIM + (g * GROUP + m) * HEAD + i];
    }
  }
  var mx: array<f32, GROUP>;
  for (var m = 0u; m < GROUP; m++) {
    mx[m] = -3.0e38;
  }
  for (var p = 0u; p < n; p++) {
    // Zeroed by its initializer: on Dawn + lavapipe, `var s: array<f32, GROUP>;` here kept the
    // previous iteration's sums instead of starting from zero.
    var s = array<f32, GROUP>();
    for (var i = 0u; i < HEAD; i++) {
      let k = kvAt(kvIndex(0u, l, p, g * HEAD + i));
      for (var m = 0u; m < GROUP; m++) {
        s[m] += q[m * HEAD + i] * k;
      }
    }
    for (var m = 0u; m < GROUP; m++) {
      let v = s[m] * inv;
      act[scoreIndex(t, g * GROUP + m, p)] = v;
      mx[m] = max(mx[m], v);
    }
  }
  var sum: array<f32, GROUP>;
  for (var p = 0u; p < n; p++) {
    for (var m = 0u; m < GROUP; m++) {
      let a = scoreIndex(t, g * GROUP + m, p);
      let e = exp(act[a] - mx[m]);
      act[a] = e;
      sum[m] += e;
    }
  }
  var acc: array<f32, GROUP * HEAD>;
  for (var p = 0u; p < n; p++) {
    var a: array<f32, GROUP>;
    for (var m = 0u; m < GROUP; m++) {
      a[m] = act[scoreIndex(t, g * GROUP + m, p)] / sum[m];
    }
    for (var i = 0u; i < HEAD; i++) {
      let v = kvAt(kvIndex(1u, l, p, g * HEAD + i));
      for (var m = 0u; m < GROUP; m++) {
        acc[m * HEAD + i] += a[m] * v;
      }
    }
  }
  if (INSTRUMENT) {
    flops += 4u * n * GROUP * HEAD;
  }
  for (var m = 0u; m < GROUP; m++) {
    for (var i = 0u; i < HEAD; i++) {
      act[batch.o_att + t * DIM + (g * GROUP + m) * HEAD + i] = acc[m * HEAD + i];
    }
  }
  finish();
}

// x[t] += W · in[t] for a (DIM, k) matrix W of layer rows starting at `base`, input at `src`.
fn residualTile(gid: vec3<u32>, base: u32, src: u32, k: u32) {
  let r0 = gid.x * TILE_R;
  if (r0 >= DIM) {
    return;
  }
  let t0 = tileStart(gid);
  let nt = tileLen(t0, batch.count);
  let valid = min(TILE_R, DIM - r0);
  var rows: array<u32, TILE_R>;
  for (var r = 0u; r < valid; r++) {
    rows[r] = base + (r0 + r) * k;
  }
  let acc = gemmTile(rows, valid, src + t0 * k, k, nt);
  for (var r = 0u; r < valid; r++) {
    for (var t = 0u; t < nt; t++) {
      let x = (t0 + t) * DIM + r0 + r;
      act[x] = act[x] + acc[r * TILE_T + t];
    }
  }
  finish();
}

// x += wo · att
@compute @workgroup_size(WG)
fn pf_wo(@builtin(global_invocation_id) gid: vec3<u32>) {
  residualTile(gid, O_WO + batch.layer * DIM * DIM, batch.o_att, DIM);
}

// x += w2 · hb
@compute @workgroup_size(WG)
fn pf_ffn_down(@builtin(global_invocation_id) gid: vec3<u32>) {
  residualTile(gid, O_W2 + batch.layer * DIM * HID, batch.o_hb, HID);
}

// hb = silu(w1 · xb) * (w3 · xb): a tile's rows are TILE_R/2 hidden units, each its w1 row then its w3 row.
@compute @workgroup_size(WG)
fn pf_ffn_up(@builtin(global_invocation_id) gid: vec3<u32>) {
  let u0 = gid.x * (TILE_R / 2u);
  if (u0 >= HID) {
    return;
  }
  let l = batch.layer;
  let t0 = tileStart(gid);
  let nt = tileLen(t0, batch.count);
  let units = min(TILE_R / 2u, HID - u0);
  var rows: array<u32, TILE_R>;
  for (var u = 0u; u < units; u++) {
    rows[2u * u] = O_W1 + (l * HID + u0 + u) * DIM;
    rows[2u * u + 1u] = O_W3 + (l * HID + u0 + u) * DIM;
  }
  let acc = gemmTile(rows, 2u * units, batch.o_xb + t0 * DIM, DIM, nt);
  for (var u = 0u; u < units; u++) {
    for (var t = 0u; t < nt; t++) {
      let a = acc[2u * u * TILE_T + t];
      let b = acc[(2u * u + 1u) * TILE_T + t];
      act[batch.o_hb + (t0 + t) * HID + u0 + u] = (a / (1.0 + exp(-a))) * b;
    }
  }
  finish();
}

// logits[t − first] = wcls · xb[t − first] for the positions whose logits are wanted.
@compute @workgroup_size(WG)
fn pf_classifier(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.x * TILE_R;
  if (r0 >= VOCAB) {
    return;
  }
  let t0 = tileStart(gid);
  let nt = tileLen(t0, batch.count - batch.first);
  let valid = min(TILE_R, VOCAB - r0);
  var rows: array<u32, TILE_R>;
  for (var r = 0u; r < valid; r++) {
    rows[r] = O_WCLS + (r0 + r) * DIM;
  }
  let acc = gemmTile(rows, valid, batch.o_xb + t0 * DIM, DIM, nt);
  for (var r = 0u; r < valid; r++) {
    for (var t = 0u; t < nt; t++) {
      act[batch.o_logits + (t0 + t) * VOCAB + r0 + r] = acc[r * TILE_T + t];
    }
  }
  finish();
}
