// A plain single-threaded C decode of a llama2.c version-0 checkpoint, greedy from BOS.
// It is wafermesh's independent cross-check of the TypeScript reference and the yardstick the
// WebGPU engines are compared with in benchmarks (same model, same CPU).
//
//   cc -O2 -o decode decode.c -lm && ./decode model.bin 256   -> ids, then tokens/s on stderr
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { int dim, hidden, layers, heads, kv_heads, vocab, seq; } Config;

static void matvec(float *out, const float *x, const float *w, int n, int d) {
  // W (d,n) @ x (n,) -> out (d,)
  for (int i = 0; i < d; i++) {
    float s = 0.0f;
    for (int j = 0; j < n; j++) s += w[(size_t)i * n + j] * x[j];
    out[i] = s;
  }
}

static void rmsnorm(float *o, const float *x, const float *w, int n) {
  float ss = 0.0f;
  for (int j = 0; j < n; j++) ss += x[j] * x[j];
  ss = 1.0f / sqrtf(ss / n + 1e-5f);
  for (int j = 0; j < n; j++) o[j] = w[j] * (ss * x[j]);
}

static void softmax(float *x, int n) {
  float m = x[0];
  for (int i = 1; i < n; i++) if (x[i] > m) m = x[i];
  float s = 0.0f;
  for (int i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
  for (int i = 0; i < n; i++) x[i] /= s;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: decode model.bin steps\n"); return 2; }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", argv[1]); return 1; }
  Config c;
  if (fread(&c, sizeof(int), 7, f) != 7) return 1;
  int shared = c.vocab > 0;
  c.vocab = abs(c.vocab);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 28, SEEK_SET);
  float *data = malloc(size - 28);
  if (fread(data, 1, size - 28, f) != (size_t)(size - 28)) return 1;
  fclose(f);
  int hs = c.dim / c.heads, kvd = c.dim * c.kv_heads / c.heads, kvmul = c.heads / c.kv_heads;
  size_t L = c.layers;
  float *p = data;
  float *emb = p; p += (size_t)c.vocab * c.dim;
  float *rms_att = p; p += L * c.dim;
  float *wq = p; p += L * c.dim * c.dim;
  float *wk = p; p += L * c.dim * kvd;
  float *wv = p; p += L * c.dim * kvd;
  float *wo = p; p += L * c.dim * c.dim;
  float *rms_ffn = p; p += L * c.dim;
  float *w1 = p; p += L * c.dim * c.hidden;
  float *w2 = p; p += L * c.hidden * c.dim;
  float *w3 = p; p += L * c.dim * c.hidden;
  float *rms_final = p; p += c.dim;
  p += (size_t)c.seq * hs; // the two legacy freq_cis tables
  float *wcls = shared ? emb : p;

  float *x = calloc(c.dim, 4), *xb = calloc(c.dim, 4), *xb2 = calloc(c.dim, 4), *q = calloc(c.dim, 4);
  float *hb = calloc(c.hidden, 4), *hb2 = calloc(c.hidden, 4), *att = calloc((size_t)c.heads * c.seq, 4);
  float *logits = calloc(c.vocab, 4);
  float *kc = calloc(L * c.seq * kvd, 4), *vc = calloc(L * c.seq * kvd, 4);

  int steps = atoi(argv[2]);
  if (steps > c.seq) steps = c.seq;
  int token = 1, n = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int pos = 0; pos < steps; pos++) {
    memcpy(x, emb + (size_t)token * c.dim, c.dim * 4);
    for (size_t l = 0; l < L; l++) {
      rmsnorm(xb, x, rms_att + l * c.dim, c.dim);
      size_t loff = l * c.seq * kvd;
      float *k = kc + loff + (size_t)pos * kvd, *v = vc + loff + (size_t)pos * kvd;
      matvec(q, xb, wq + l * c.dim * c.dim, c.dim, c.dim);
      matvec(k, xb, wk + l * c.dim * kvd, c.dim, kvd);
      matvec(v, xb, wv + l * c.dim * kvd, c.dim, kvd);
      for (int i = 0; i < c.dim; i += 2) {
        float fr = 1.0f / powf(10000.0f, (i % hs) / (float)hs), val = pos * fr;
        float fcr = cosf(val), fci = sinf(val);
        for (int r = 0; r < (i < kvd ? 2 : 1); r++) {
          float *vec = r == 0 ? q : k;
          float v0 = vec[i], v1 = vec[i + 1];
          vec[i] = v0 * fcr - v1 * fci;
          vec[i + 1] = v0 * fci + v1 * fcr;
        }
      }
      for (int h = 0; h < c.heads; h++) {
        float *qh = q + h * hs, *a = att + (size_t)h * c.seq;
        for (int t = 0; t <= pos; t++) {
          float *kt = kc + loff + (size_t)t * kvd + (h / kvmul) * hs, s = 0.0f;
          for (int i = 0; i < hs; i++) s += qh[i] * kt[i];
          a[t] = s / sqrtf((float)hs);
        }
        softmax(a, pos + 1);
        float *o = xb + h * hs;
        memset(o, 0, hs * 4);
        for (int t = 0; t <= pos; t++) {
          float *vt = vc + loff + (size_t)t * kvd + (h / kvmul) * hs;
          for (int i = 0; i < hs; i++) o[i] += a[t] * vt[i];
        }
      }
      matvec(xb2, xb, wo + l * c.dim * c.dim, c.dim, c.dim);
      for (int i = 0; i < c.dim; i++) x[i] += xb2[i];
      rmsnorm(xb, x, rms_ffn + l * c.dim, c.dim);
      matvec(hb, xb, w1 + l * c.dim * c.hidden, c.dim, c.hidden);
      matvec(hb2, xb, w3 + l * c.dim * c.hidden, c.dim, c.hidden);
      for (int i = 0; i < c.hidden; i++) { float s = hb[i]; hb[i] = s / (1.0f + expf(-s)) * hb2[i]; }
      matvec(xb, hb, w2 + l * c.hidden * c.dim, c.hidden, c.dim);
      for (int i = 0; i < c.dim; i++) x[i] += xb[i];
    }
    rmsnorm(x, x, rms_final, c.dim);
    matvec(logits, x, wcls, c.dim, c.vocab);
    int next = 0;
    for (int i = 1; i < c.vocab; i++) if (logits[i] > logits[next]) next = i;
    if (next == 1) break;
    printf(n ? " %d" : "%d", next);
    n++;
    token = next;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("\n");
  fprintf(stderr, "%d tokens, %.1f tokens/s\n", n, n / s);
  return 0;
}
