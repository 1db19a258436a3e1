/**
 * Plain captions for the steps "step one phase" walks on the wafer (the mesh engine): its compute passes
 * (entry points of shaders/mesh_core.wgsl, in which a core touches only its own SRAM) and its
 * fabric phases (named by src/mesh/programs/decode-fabric.ts, in which words move only between
 * neighbouring cores).
 */
const COMPUTE: Readonly<Record<string, string>> = {
  embed_load: "compute: the cores of the row holding the token's embedding copy their slice of it into x, the others zeros (on greedy decoding the token is the id the wafer found)",
  embed_sumsq: 'compute: each core squares and sums its slice of x, for the norm',
  qkv: 'compute: RMSNorm, then each core multiplies its tiles of wq, wk and wv by its slice of x (partial sums)',
  scores: 'compute: RoPE on q and k, k and v stored in the KV cache, partial attention scores over the positions each core holds',
  softmax: "compute: per head, each row's largest score, its sum of exponentials and its exp-weighted sum of values",
  rescale: "compute: each row rescales its sums to its column's largest score",
  wo: 'compute: the attention output normalised, then the wo tile products (partial sums)',
  residual: 'compute: the gathered vector added into x (the residual), then its squares summed for the next norm',
  w13: 'compute: RMSNorm, then the w1 and w3 tile products (partial sums)',
  w2: 'compute: SwiGLU of the gathered w1 and w3 outputs, then the w2 tile products (partial sums)',
  classifier: 'compute: the final RMSNorm, then the classifier tile products (partial logits)',
  argmax_local: "compute: column 0's cores find their slice's largest logit, and whether any logit is not finite",
  argmax_pick: "compute: column 0's cores find where the largest logit is in their slice (the next token's id)",
};

/** Fabric phases by what their names say they do. */
const FABRIC: readonly (readonly [RegExp, string])[] = [
  [/embedding broadcast/, "fabric: the token's embedding slice goes down every column, core to core"],
  [/embedding: column allreduce/, "fabric: x is added up down every column (only the token's row holds non-zeros), so every core receives the embedding"],
  [/next token: column 0 maximum/, 'fabric: the largest logit and the non-finite flag travel down column 0 to all of its cores'],
  [/next token: column 0 first maximum/, "fabric: the id of the largest logit is found down column 0 and sent along every row; only this id leaves the wafer"],
  [/allreduce Σx²/, 'fabric: each row adds up its cores\' sums of squares, and every core of the row receives the total'],
  [/reduce-scatter.*multicast/, 'fabric: partial sums are added up along each row into the column that owns each coordinate, sent along the row to the columns keeping a copy of the KV cache, then down the columns'],
  [/reduce-scatter/, 'fabric: partial sums are added up along each row into the column that owns each coordinate, then sent down the columns'],
  [/attention scores/, 'fabric: each head\'s partial scores are added up along the columns its coordinates span, and the sums sent back along them'],
  [/column maxima/, 'fabric: per head, the largest score of each column reaches all of its cores'],
  [/column sums/, 'fabric: per head, the sums of exponentials and the weighted values are added up down each column'],
  [/logits/, "fabric: each row's partial logits are added up into column 0, where they are read out"],
];

/** What a step does, in one line: a compute pass by its entry point, a fabric phase by its name. */
export function stepCaption(kind: 'compute' | 'fabric', name: string): string {
  if (kind === 'compute') return COMPUTE[name] ?? `compute: ${name}, each core on its own SRAM`;
  return FABRIC.find(([re]) => re.test(name))?.[1] ?? 'fabric: words move only between neighbouring cores';
}

/** Whether the compute entry has its own caption (a test checks every entry of the fabric decode has one). */
export const hasComputeCaption = (entry: string) => entry in COMPUTE;
