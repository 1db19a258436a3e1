/**
 * Where a step of the wafer's decode sits in the transformer: the node of the block diagram it
 * lights. Compute passes by their entry point (shaders/mesh_core.wgsl), fabric phases by what
 * their names say (src/mesh/programs/decode-fabric.ts). Pure, tested against the decode's names.
 */
export type BlockNode = 'embed' | 'attn-norm' | 'qkv' | 'scores' | 'softmax' | 'wo' | 'residual' | 'ffn-norm' | 'w13' | 'w2' | 'logits' | 'next';

/** The diagram's nodes in order, with their labels. */
export const BLOCK_NODES: readonly { id: BlockNode; label: string; inLayer: boolean }[] = [
  { id: 'embed', label: 'embedding', inLayer: false },
  { id: 'attn-norm', label: 'RMSNorm', inLayer: true },
  { id: 'qkv', label: 'q, k, v', inLayer: true },
  { id: 'scores', label: 'scores q·k', inLayer: true },
  { id: 'softmax', label: 'softmax · v', inLayer: true },
  { id: 'wo', label: 'wo', inLayer: true },
  { id: 'residual', label: '+ residual', inLayer: true },
  { id: 'ffn-norm', label: 'RMSNorm', inLayer: true },
  { id: 'w13', label: 'w1, w3 · SwiGLU', inLayer: true },
  { id: 'w2', label: 'w2', inLayer: true },
  { id: 'logits', label: 'norm · logits', inLayer: false },
  { id: 'next', label: 'next token', inLayer: false },
];

const COMPUTE: Record<string, BlockNode> = {
  embed_load: 'embed',
  embed_sumsq: 'attn-norm',
  qkv: 'qkv',
  scores: 'scores',
  softmax: 'softmax',
  rescale: 'softmax',
  wo: 'wo',
  residual: 'residual',
  w13: 'w13',
  w2: 'w2',
  classifier: 'logits',
  argmax_local: 'next',
  argmax_pick: 'next',
};

const FABRIC: readonly (readonly [RegExp, BlockNode])[] = [
  [/embedding/, 'embed'],
  [/attention norm/, 'attn-norm'],
  [/ffn norm/, 'ffn-norm'],
  [/q, k, v/, 'qkv'],
  [/attention scores/, 'scores'],
  [/column maxima|column sums/, 'softmax'],
  [/\bwo\b/, 'wo'],
  [/w1, w3/, 'w13'],
  [/\bw2\b/, 'w2'],
  [/logits|final norm/, 'logits'],
  [/next token/, 'next'],
];

/** The node a step lights, or null when its name is not known. */
export function blockNodeOf(kind: 'compute' | 'transfer', name: string): BlockNode | null {
  if (kind === 'compute') return COMPUTE[name] ?? null;
  return FABRIC.find(([re]) => re.test(name))?.[1] ?? null;
}
