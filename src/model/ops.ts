/**
 * CPU references of the kernels every engine runs: plain loops over typed arrays. The GPU and
 * mesh kernels are tested against these, and `reference.ts` is built from them.
 */

/** W (d,n) @ x (n,) -> out (d,); W row-major at element offset `wOff`. */
export function matvec(out: Float32Array, x: Float32Array, w: Float32Array, n: number, d: number, wOff = 0): void {
  for (let i = 0; i < d; i++) {
    let sum = 0;
    const row = wOff + i * n;
    for (let j = 0; j < n; j++) sum += w[row + j] * x[j];
    out[i] = sum;
  }
}

/**
 * W (d,n) @ X (T,n)ᵀ -> out (T,d): the batched matvec of a prefill. Each weight row is read once
 * and applied to all T rows of X; every output is summed in the order matvec sums it, so a row of
 * the result equals matvec of that row of X bit for bit.
 */
export function matmul(out: Float32Array, x: Float32Array, w: Float32Array, T: number, n: number, d: number, wOff = 0): void {
  for (let i = 0; i < d; i++) {
    const row = wOff + i * n;
    for (let t = 0; t < T; t++) {
      const xo = t * n;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += w[row + j] * x[xo + j];
      out[t * d + i] = sum;
    }
  }
}

/** x (n,), weight (n,) at `wOff` -> out (n,) = weight * x / sqrt(mean(x²) + 1e-5). */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, wOff = 0): void {
  let ss = 0;
  for (let j = 0; j < n; j++) ss += x[j] * x[j];
  const scale = 1 / Math.sqrt(ss / n + 1e-5);
  for (let j = 0; j < n; j++) out[j] = weight[wOff + j] * (scale * x[j]);
}

/** x[off … off+n) (n,) -> softmax in place. */
export function softmax(x: Float32Array, n: number, off = 0): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[off + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    x[off + i] = Math.exp(x[off + i] - max);
    sum += x[off + i];
  }
  for (let i = 0; i < n; i++) x[off + i] /= sum;
}

/** The rotary angle of pair element `i` (even index within a head of `headSize`) at `pos`. */
export function ropeAngle(pos: number, i: number, headSize: number): number {
  const headDim = i % headSize;
  return pos * Math.pow(10000, -headDim / headSize);
}

/**
 * Rotary embedding, llama2.c's interleaved-pair convention: each (v[i], v[i+1]) with i even is
 * rotated by ropeAngle(pos, i). v (n,) in place; n a multiple of headSize.
 */
export function rope(v: Float32Array, n: number, pos: number, headSize: number): void {
  for (let i = 0; i < n; i += 2) {
    const a = ropeAngle(pos, i, headSize);
    const c = Math.cos(a);
    const s = Math.sin(a);
    const v0 = v[i];
    const v1 = v[i + 1];
    v[i] = v0 * c - v1 * s;
    v[i + 1] = v0 * s + v1 * c;
  }
}

/** SwiGLU gate: h1 (n,) <- silu(h1) * h3. */
export function swiglu(h1: Float32Array, h3: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = h1[i];
    h1[i] = (v / (1 + Math.exp(-v))) * h3[i];
  }
}
