import { CATALOG } from '../catalog.ts';

/**
 * Checkpoints and tokenizers known by their sha256, so that a checkpoint given a tokenizer that is
 * not its own is noticed: two llama2.c models with the same vocabulary size read each other's
 * tokenizers without complaint and write nonsense. The digests are the catalog's (src/catalog.ts:
 * the files as shipped; wm-stories': its model card, public/models/wm-stories.train.json). stories260K's own tokenizer (llama2.c's tok512.bin) is not here, so
 * any tokenizer given with it that is known to be another model's is flagged.
 */
export interface KnownPair {
  readonly model: string;
  readonly checkpointSha256: string;
  /** Its own tokenizer's digest, where that tokenizer is known. */
  readonly tokenizerSha256?: string;
}

export const KNOWN_PAIRS: readonly KnownPair[] = CATALOG.models.flatMap((m) =>
  m.checkpointSha256 ? [{ model: m.id, checkpointSha256: m.checkpointSha256, ...(m.tokenizerSha256 ? { tokenizerSha256: m.tokenizerSha256 } : {}) }] : [],
);

/** Lower-case hex sha256 of some bytes (Web Crypto: Node 20 and browsers alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const copy = new Uint8Array(bytes); // a plain ArrayBuffer, whatever `bytes` views
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', copy.buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A one-line warning when a known checkpoint is paired with a tokenizer that is not its own (a
 * tokenizer known to be another model's, or, for a model whose tokenizer is known, any other),
 * else undefined. `checkpoint` and `tokenizer` name the files for the message.
 */
export function pairingWarning(
  checkpointSha: string,
  tokenizerSha: string,
  names: { checkpoint: string; tokenizer: string },
  pairs: readonly KnownPair[] = KNOWN_PAIRS,
): string | undefined {
  const ck = pairs.find((p) => p.checkpointSha256 === checkpointSha);
  if (!ck) return undefined;
  if (ck.tokenizerSha256 === tokenizerSha) return undefined;
  const owner = pairs.find((p) => p.tokenizerSha256 === tokenizerSha);
  if (owner) {
    return `the tokenizer ${names.tokenizer} belongs to ${owner.model}, but the checkpoint ${names.checkpoint} is ${ck.model}; its ids will decode to the wrong text: use the tokenizer ${ck.model} was trained with`;
  }
  if (ck.tokenizerSha256) {
    return `the tokenizer ${names.tokenizer} is not the one ${ck.model} was trained with (sha256 ${tokenizerSha.slice(0, 12)}…, not ${ck.tokenizerSha256.slice(0, 12)}…); the text may be nonsense`;
  }
  return undefined;
}
