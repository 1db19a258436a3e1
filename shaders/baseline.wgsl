// baseline: a conventional GPU decode of one token. All weights live in one off-chip buffer in
// llama2.c's layout and are streamed through the kernels every token; activations are small and
// stay on chip. One entry point per fused kernel; one invocation per output row (or row pair, or
// KV head), no workgroup memory and no barriers.
// Buffers: weights (checkpoint floats) f32; kv (2, L, SEQ, KVD) f32; act: x (DIM) | q (DIM) |
// att (DIM) | hb (HID) | logits (VOCAB) | scores (NH, SEQ) f32.

// The model's sizes (DIM, HID, KVD, NH, KVMUL, HS, NL, SEQ, VOCAB, SHARED), WG, INSTRUMENT (count
// bytes read from off-chip memory into `counters`) and the tensors' element offsets in `weights`
// (O_*, llama2.c order) are overrides declared in a prelude generated from their values
// (src/engines/gpu.ts baselineOverrides), shared with baseline_prefill.

struct Step {
  pos: u32,
  token: u32,
  layer: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<f32>;
@group(0) @binding(1) var<storage, read_write> kv: array<f32>;
@group(0) @binding(2) var<storage, read_write> act: array<f32>;
@group(0) @binding(3) var<storage, read_write> counters: array<atomic<u32>>; // [0] weight bytes, [1] KV bytes
@group(1) @binding(0) var<uniform> stepInfo: Step;

const A_X = 0u;
fn aQ() -> u32 { return DIM; }
fn aAtt() -> u32 { return 2u * DIM; }
fn aHb() -> u32 { return 3u * DIM; }
fn aLogits() -> u32 { return 3u * DIM + HID; }
fn aScores() -> u32 { return 3u * DIM + HID + VOCAB; }

var<private> weightReads: u32;
var<private> kvReads: u32;

fn w(i: u32) -> f32 {
  weightReads += 1u;
  return weights[i];
}
fn kvAt(i: u32) -> f32 {
  kvReads += 1u;
  return kv[i];
}
fn finish() {
  if (INSTRUMENT) {
    atomicAdd(&counters[0], 4u * weightReads);
    atomicAdd(&counters[1], 4u * kvReads);
  }
}

// 1 / sqrt(mean(x²) + 1e-5) of the residual stream.
fn rmsScale() -> f32 {
  var ss = 0.0;
  for (var j = 0u; j < DIM; j++) {
    let v = act[A_X + j];
    ss += v * v;
  }
  return 1.0 / sqrt(ss / f32(DIM) + 1e-5);
}

// W[row] (n,) · (norm ⊙ scale·x), the normalised input formed as the reference forms it. Every
// row re-reads the same norm vector, which a GPU serves from cache: `countNorm` counts it once.
fn normDot(wRow: u32, norm: u32, scale: f32) -> f32 {
  var s = 0.0;
  for (var j = 0u; j < DIM; j++) {
    s += w(wRow + j) * (weights[norm + j] * (scale * act[A_X + j]));
  }
  return s;
}
fn countNorm(first: bool) {
  if (first) {
    weightReads += DIM;
  }
}

fn kvIndex(which: u32, l: u32, t: u32, i: u32) -> u32 {
  return ((which * NL + l) * SEQ + t) * KVD + i;
}

// rmsnorm, q/k/v rows (a RoPE pair per invocation), rotation, and k, v into the KV cache.
@compute @workgroup_size(WG)
fn qkv(@builtin(global_invocation_id) gid: vec3<u32>) {
  let pair = gid.x;
  if (pair >= (DIM + 2u * KVD) / 2u) {
    return;
  }
  let l = stepInfo.layer;
  let pos = stepInfo.pos;
  let scale = rmsScale();
  let norm = O_RMSATT + l * DIM;
  let r = 2u * pair; // row in the stacked [wq; wk; wv]
  var base: u32;
  var i: u32; // row within its own matrix
  if (r < DIM) {
    base = O_WQ + l * DIM * DIM;
    i = r;
  } else if (r < DIM + KVD) {
    base = O_WK + l * KVD * DIM;
    i = r - DIM;
  } else {
    base = O_WV + l * KVD * DIM;
    i = r - DIM - KVD;
  }
  countNorm(pair == 0u);
  var v0 = normDot(base + i * DIM, norm, scale);
  var v1 = normDot(base + (i + 1u) * DIM, norm, scale);
  if (r < DIM + KVD) {
    let freq = 1.0 / pow(10000.0, f32(i % HS) / f32(HS));
    let angle = f32(pos) * freq;
    let c = cos(angle);
    let s = sin(angle);
    let a = v0 * c - v1 * s;
    let b = v0 * s + v1 * c;
    v0 = a;
    v1 = b;
  }
  if (r < DIM) {
    act[aQ() + i] = v0;
    act[aQ() + i + 1u] = v1;
  } else if (r < DIM + KVD) {
    kv[kvIndex(0u, l, pos, i)] = v0;
    kv[kvIndex(0u, l, pos, i + 1u)] = v1;
  } else {
    kv[kvIndex(1u, l, pos, i)] = v0;
    kv[kvIndex(1u, l, pos, i + 1u)] = v1;
  }
  finish();
}

// Attention for one KV head and the KVMUL query heads sharing it: each cached k and v is read once.
@compute @workgroup_size(WG)
fn attention(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  if (g >= NH / KVMUL) {
    return;
  }
  let l = stepInfo.layer;
  let pos = stepInfo.pos;
  let inv = 1.0 / sqrt(f32(HS));
  for (var t = 0u; t <= pos; t++) {
    for (var m = 0u; m < KVMUL; m++) {
      act[aScores() + (g * KVMUL + m) * SEQ + t] = 0.0;
    }
    for (var i = 0u; i < HS; i++) {
      let k = kvAt(kvIndex(0u, l, t, g * HS + i));
      for (var m = 0u; m < KVMUL; m++) {
        let h = g * KVMUL + m;
        let a = aScores() + h * SEQ + t;
        act[a] = act[a] + act[aQ() + h * HS + i] * k;
      }
    }
  }
  for (var m = 0u; m < KVMUL; m++) {
    let h = g * KVMUL + m;
    let sc = aScores() + h * SEQ;
    var mx = -3.0e38;
    for (var t = 0u; t <= pos; t++) {
      act[sc + t] = act[sc + t] * inv;
      mx = max(mx, act[sc + t]);
    }
    var sum = 0.0;
    for (var t = 0u; t <= pos; t++) {
      let e = exp(act[sc + t] - mx);
      act[sc + t] = e;
      sum += e;
    }
    for (var t = 0u; t <= pos; t++) {
      act[sc + t] = act[sc + t] / sum;
    }
    for (var i = 0u; i < HS; i++) {
      act[aAtt() + h * HS + i] = 0.0;
    }
  }
  for (var t = 0u; t <= pos; t++) {
    for (var i = 0u; i < HS; i++) {
      let v = kvAt(kvIndex(1u, l, t, g * HS + i));
      for (var m = 0u; m < KVMUL; m++) {
        let h = g * KVMUL + m;
        let a = aAtt() + h * HS + i;
        act[a] = act[a] + act[aScores() + h * SEQ + t] * v;
      }
    }
  }
  finish();
}

// x[i] += wo[i] · att
@compute @workgroup_size(WG)
fn wo_residual(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= DIM) {
    return;
  }
  let row = O_WO + (stepInfo.layer * DIM + i) * DIM;
  var s = 0.0;
  for (var j = 0u; j < DIM; j++) {
    s += w(row + j) * act[aAtt() + j];
  }
  act[A_X + i] = act[A_X + i] + s;
  finish();
}

// hb[i] = silu(w1[i] · xb) * (w3[i] · xb), xb = rmsnorm(x)
@compute @workgroup_size(WG)
fn ffn_up(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= HID) {
    return;
  }
  let l = stepInfo.layer;
  let scale = rmsScale();
  let norm = O_RMSFFN + l * DIM;
  countNorm(i == 0u);
  let a = normDot(O_W1 + (l * HID + i) * DIM, norm, scale);
  let b = normDot(O_W3 + (l * HID + i) * DIM, norm, scale);
  act[aHb() + i] = (a / (1.0 + exp(-a))) * b;
  finish();
}

// x[i] += w2[i] · hb
@compute @workgroup_size(WG)
fn ffn_down(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= DIM) {
    return;
  }
  let row = O_W2 + (stepInfo.layer * DIM + i) * HID;
  var s = 0.0;
  for (var j = 0u; j < HID; j++) {
    s += w(row + j) * act[aHb() + j];
  }
  act[A_X + i] = act[A_X + i] + s;
  finish();
}

// logits[i] = wcls[i] · rmsnorm(x)
@compute @workgroup_size(WG)
fn classifier(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= VOCAB) {
    return;
  }
  let scale = rmsScale();
  countNorm(i == 0u);
  act[aLogits() + i] = normDot(O_WCLS + i * DIM, O_RMSFINAL, scale);
  finish();
}
