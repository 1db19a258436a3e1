import { WafermeshError } from '../errors.ts';
import { BOS, EOS } from './config.ts';

/**
 * A llama2.c tokenizer: a vocabulary of byte strings with merge scores. The file is
 * int32 max_token_length, then per token: float32 score, int32 length, `length` bytes.
 * Encoding is llama2.c's: BOS, a dummy-prefix " ", one token per UTF-8 code point (or
 * `<0xNN>` byte tokens where the code point is not in the vocabulary), then greedy merges of the
 * adjacent pair whose concatenation has the highest score.
 */
export class Tokenizer {
  readonly vocab: readonly Uint8Array[]; // (vocabSize,) byte strings
  readonly scores: Float32Array; // (vocabSize,) merge scores
  readonly maxTokenLength: number;
  private readonly lookup = new Map<string, number>(); // latin1 key of the bytes -> id
  private readonly strings: readonly string[]; // latin1 view of each token's bytes

  constructor(vocab: Uint8Array[], scores: Float32Array, maxTokenLength?: number) {
    if (vocab.length !== scores.length) {
      throw new WafermeshError('bad-tokenizer', `${vocab.length} tokens but ${scores.length} scores`);
    }
    this.vocab = vocab;
    this.scores = scores;
    this.maxTokenLength = maxTokenLength ?? vocab.reduce((m, v) => Math.max(m, v.length), 0);
    this.strings = vocab.map(latin1);
    // First id wins for duplicate strings, as llama2.c's sorted bsearch finds one of them.
    this.strings.forEach((s, i) => {
      if (!this.lookup.has(s)) this.lookup.set(s, i);
    });
  }

  get size(): number {
    return this.vocab.length;
  }

  idOf(piece: string): number | undefined {
    return this.lookup.get(latin1(new TextEncoder().encode(piece)));
  }

  /** Text -> ids, starting with BOS when `bos`; an empty text is just [BOS] (or []). */
  encode(text: string, bos = true, eos = false): number[] {
    const ids: number[] = [];
    if (bos) ids.push(BOS);
    const bytes = new TextEncoder().encode(text);
    if (bytes.length > 0) {
      const space = this.lookup.get(' ');
      if (space !== undefined) ids.push(space); // the dummy prefix sentencepiece adds
    }
    let i = 0;
    while (i < bytes.length) {
      const n = utf8Length(bytes[i]);
      const cp = bytes.subarray(i, Math.min(i + n, bytes.length));
      const id = this.lookup.get(latin1(cp));
      if (id !== undefined) {
        ids.push(id);
      } else {
        for (const b of cp) ids.push(this.byteId(b));
      }
      i += n;
    }
    // Greedy merges: repeatedly merge the adjacent pair with the best score.
    const start = bos ? 1 : 0;
    for (;;) {
      let best = -Infinity;
      let bestId = -1;
      let bestIdx = -1;
      for (let j = start; j < ids.length - 1; j++) {
        const merged = this.lookup.get(this.strings[ids[j]] + this.strings[ids[j + 1]]);
        if (merged !== undefined && this.scores[merged] > best) {
          best = this.scores[merged];
          bestId = merged;
          bestIdx = j;
        }
      }
      if (bestIdx < 0) break;
      ids.splice(bestIdx, 2, bestId);
    }
    if (eos) ids.push(EOS);
    return ids;
  }

  /** The bytes `token` stands for after `prev` (llama2.c: no leading space right after BOS). */
  pieceBytes(prev: number, token: number): Uint8Array {
    const v = this.vocab[token];
    if (v === undefined) throw new WafermeshError('bad-token', `token id ${token} is outside the vocabulary of ${this.size}`);
    const s = this.strings[token];
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(s);
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    if (prev === BOS && v[0] === 0x20) return v.subarray(1);
    return v;
  }

  /** Ids -> text; `prev` is the id before ids[0] (BOS at the start of a sequence). */
  decode(ids: readonly number[], prev = BOS): string {
    const parts: Uint8Array[] = [];
    for (const id of ids) {
      parts.push(this.pieceBytes(prev, id));
      prev = id;
    }
    return new TextDecoder().decode(concat(parts));
  }

  private byteId(b: number): number {
    const id = this.lookup.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    if (id === undefined) {
      throw new WafermeshError('bad-tokenizer', `byte 0x${b.toString(16)} has no <0xNN> fallback token in the vocabulary`);
    }
    return id;
  }
}

/** Streams decoded text token by token, holding back incomplete UTF-8 sequences. */
export class TextStream {
  private readonly decoder = new TextDecoder();
  private prev = BOS;
  constructor(private readonly tokenizer: Tokenizer, prev = BOS) {
    this.prev = prev;
  }
  push(id: number): string {
    const s = this.decoder.decode(this.tokenizer.pieceBytes(this.prev, id), { stream: true });
    this.prev = id;
    return s;
  }
  flush(): string {
    return this.decoder.decode();
  }
}

export function readTokenizer(bytes: Uint8Array, source = 'tokenizer', vocabSize?: number): Tokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) {
    throw new WafermeshError('bad-tokenizer', `${source} is ${bytes.byteLength} bytes; a llama2.c tokenizer starts with a 4-byte max token length`);
  }
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength < 1 || maxTokenLength > 1 << 16) {
    throw new WafermeshError('bad-tokenizer', `${source}: max token length ${maxTokenLength} is not in 1…65536; not a llama2.c tokenizer file`);
  }
  const vocab: Uint8Array[] = [];
  const scores: number[] = [];
  let off = 4;
  while (off < bytes.byteLength && (vocabSize === undefined || vocab.length < vocabSize)) {
    if (off + 8 > bytes.byteLength) {
      throw new WafermeshError('bad-tokenizer', `${source} is truncated inside token ${vocab.length} (at byte ${off})`);
    }
    const score = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    off += 8;
    if (len < 0 || len > maxTokenLength || off + len > bytes.byteLength || !Number.isFinite(score)) {
      throw new WafermeshError(
        'bad-tokenizer',
        `${source}: token ${vocab.length} has length ${len} and score ${score} at byte ${off - 8}; the file is corrupt or truncated`,
      );
    }
    vocab.push(bytes.slice(off, off + len));
    scores.push(score);
    off += len;
  }
  if (vocabSize !== undefined && vocab.length !== vocabSize) {
    throw new WafermeshError('bad-tokenizer', `${source} has ${vocab.length} tokens but the model's vocabulary has ${vocabSize}; use the tokenizer the model was trained with`);
  }
  if (vocabSize !== undefined && off !== bytes.byteLength) {
    throw new WafermeshError('bad-tokenizer', `${source} has more than the model's ${vocabSize} tokens; use the tokenizer the model was trained with`);
  }
  return new Tokenizer(vocab, Float32Array.from(scores), maxTokenLength);
}

export function writeTokenizer(t: Tokenizer): Uint8Array {
  let size = 4;
  for (const v of t.vocab) size += 8 + v.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, t.maxTokenLength, true);
  let off = 4;
  t.vocab.forEach((v, i) => {
    view.setFloat32(off, t.scores[i], true);
    view.setInt32(off + 4, v.length, true);
    out.set(v, off + 8);
    off += 8 + v.length;
  });
  return out;
}

function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) === 0xc0) return 2;
  if ((lead & 0xf0) === 0xe0) return 3;
  if ((lead & 0xf8) === 0xf0) return 4;
  return 1; // a stray continuation byte stands alone and falls back to <0xNN>
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
