import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOS, EOS } from '../../src/model/config.ts';
import { readTokenizer, TextStream, writeTokenizer } from '../../src/model/tokenizer.ts';
import { testTokenizer } from '../helpers/models.ts';

describe('llama2.c tokenizer', () => {
  const tok = testTokenizer(300, [' ', 'h', 'e', 'l', 'o', 'he', 'll', 'hell', 'hello', ' hello', 'é']);
  const id = (p: string) => tok.idOf(p)!;

  it('merges greedily by score and adds the dummy-prefix space', () => {
    expect(tok.encode('hello')).toEqual([BOS, id(' hello')]);
    expect(tok.encode('hello', false, true)).toEqual([id(' hello'), EOS]);
    expect(tok.encode('')).toEqual([BOS]);
  });

  it('falls back to <0xNN> byte tokens for code points not in the vocabulary', () => {
    const ids = tok.encode('hé☃');
    // ' ' + 'h' merge? ' h' is not a piece, so: ' ', 'h', 'é', then ☃'s three bytes.
    expect(ids).toEqual([BOS, id(' '), id('h'), id('é'), id('<0xE2>'), id('<0x98>'), id('<0x83>')]);
    expect(tok.decode(ids.slice(1))).toBe('hé☃');
  });

  it('decodes what it encodes (any Unicode text)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => {
        const ids = tok.encode(s);
        // The dummy-prefix space the encoder adds is exactly the one the decoder drops after BOS.
        expect(tok.decode(ids.slice(1))).toBe(s);
      }),
      { numRuns: 200, seed: 3 },
    );
  });

  it('streams text across split UTF-8 sequences', () => {
    const ids = tok.encode('a☃b').slice(1);
    const st = new TextStream(tok);
    const out = ids.map((i) => st.push(i)).join('') + st.flush();
    expect(out).toBe('a☃b');
  });

  it('round-trips its file format and refuses corrupt files', () => {
    const bytes = writeTokenizer(tok);
    const back = readTokenizer(bytes, 't.bin', 300);
    expect(back.vocab).toEqual(tok.vocab);
    expect(back.scores).toEqual(tok.scores);
    expect(() => readTokenizer(bytes.subarray(0, bytes.length - 3), 't.bin', 300)).toThrow(/bad-tokenizer: t\.bin: token 299 has length/);
    expect(() => readTokenizer(bytes, 't.bin', 512)).toThrow(/has 300 tokens but the model's vocabulary has 512/);
    expect(() => readTokenizer(bytes, 't.bin', 200)).toThrow(/more than the model's 200 tokens/);
    expect(() => readTokenizer(new Uint8Array([0, 0]), 't.bin')).toThrow(/is 2 bytes/);
  });
});
