import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_PAIRS, pairingWarning, sha256Hex } from '../../src/model/pairing.ts';
import { loadModel, parseModelSpec } from '../../src/model/load.ts';
import { STORIES260K_PATH } from '../helpers/models.ts';

const ROOT = resolve(__dirname, '../..');
const names = { checkpoint: 'ck.bin', tokenizer: 'tok.bin' };
const wm = KNOWN_PAIRS.find((p) => p.model === 'wm-stories')!;
const s260 = KNOWN_PAIRS.find((p) => p.model === 'stories260K')!;

describe('checkpoint and tokenizer pairing by sha256', () => {
  it("the digests are the shipped files' (wm-stories' model card, the shared stories260K)", async () => {
    const card = JSON.parse(readFileSync(resolve(ROOT, 'public/models/wm-stories.train.json'), 'utf8'));
    expect(wm.checkpointSha256).toBe(card.checkpoint_sha256);
    expect(wm.tokenizerSha256).toBe(card.tokenizer_sha256);
    expect(await sha256Hex(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.bin'))))).toBe(wm.checkpointSha256);
    expect(await sha256Hex(new Uint8Array(readFileSync(STORIES260K_PATH)))).toBe(s260.checkpointSha256);
  });

  it('sha256Hex is SHA-256', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('warns for another known model\'s tokenizer, and for a stranger given to a model whose own is known', () => {
    expect(pairingWarning(s260.checkpointSha256, wm.tokenizerSha256!, names)).toMatch(/the tokenizer tok\.bin belongs to wm-stories, but the checkpoint ck\.bin is stories260K/);
    expect(pairingWarning(wm.checkpointSha256, 'f'.repeat(64), names)).toMatch(/is not the one wm-stories was trained with/);
  });

  it('is silent for the right pair, an unknown checkpoint, and a model whose own tokenizer is unknown given a stranger', () => {
    expect(pairingWarning(wm.checkpointSha256, wm.tokenizerSha256!, names)).toBeUndefined();
    expect(pairingWarning('0'.repeat(64), wm.tokenizerSha256!, names)).toBeUndefined();
    expect(pairingWarning(s260.checkpointSha256, 'f'.repeat(64), names)).toBeUndefined();
  });

  it('the one loader returns the warning with the model (the demo reads it too)', async () => {
    const read = (p: string, _what: string, builtin: boolean) => new Uint8Array(readFileSync(builtin ? resolve(ROOT, p) : p));
    const tok = resolve(ROOT, 'public/models/wm-stories.tok.bin');
    const mismatched = await loadModel({ kind: 'file', path: STORIES260K_PATH }, read, tok);
    expect(mismatched.warnings).toHaveLength(1);
    expect(mismatched.warnings[0]).toMatch(/belongs to wm-stories/);
    const own = await loadModel(parseModelSpec('wm-stories'), read);
    expect(own.warnings).toEqual([]);
  });
});
