// matvec: W (D, N) @ x (N,) -> out (D,), all f32, W row-major.
// One invocation per output row and no workgroup memory, so no barrier: on the software drivers
// a barrier costs far more than re-reading x, which stays in cache.

override N: u32; // columns (input length)
override D: u32; // rows (output length)
override WG: u32 = 64; // invocations per workgroup

@group(0) @binding(0) var<storage, read> w: array<f32>; // (D, N)
@group(0) @binding(1) var<storage, read> x: array<f32>; // (N,)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (D,)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= D) {
    return;
  }
  let base = row * N;
  // Four independent partial sums keep the loop's dependency chain short.
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  let n4 = N & ~3u;
  var j = 0u;
  for (; j < n4; j += 4u) {
    s0 += w[base + j] * x[j];
    s1 += w[base + j + 1u] * x[j + 1u];
    s2 += w[base + j + 2u] * x[j + 2u];
    s3 += w[base + j + 3u] * x[j + 3u];
  }
  for (; j < N; j += 1u) {
    s0 += w[base + j] * x[j];
  }
  out[row] = (s0 + s1) + (s2 + s3);
}
