import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';

describe('predict refuses a draft or a block that cannot work, in one line', () => {
  it.each([
    [['--model', 'llama-3.1-8b', '--draft', 'llama-2-7b'], /^wafermesh predict: --draft llama-2-7b: its vocabulary \(32000 ids\) is not llama-3\.1-8b's \(128256\); a draft must share the target's tokenizer$/],
    [['--model', 'llama-3.2-1b', '--draft', 'llama-3.1-70b'], /^wafermesh predict: --draft llama-3\.1-70b: it is not smaller than llama-3\.2-1b \(.* parameters against .*\); use a smaller draft$/],
    [['--model', 'llama-3-8b', '--hardware', 'wse-2', '--cores', '0x5'], /^wafermesh predict: --cores 0x5 is not a block of the wse-2's 757 x 996 fabric; use 1…757 by 1…996$/],
    [['--model', 'llama-3-8b', '--hardware', 'wse-2', '--cores', '800x800'], /^wafermesh predict: --cores 800x800 is not a block of the wse-2's 757 x 996 fabric/],
  ])('%j', (args, message) => {
    const r = cli('predict', ...(args as string[]));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toMatch(message as RegExp);
  });
});
