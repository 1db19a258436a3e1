import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandHelp } from '../../src/cli/main.ts';
import { writeCheckpoint } from '../../src/model/checkpoint.ts';
import { randomModel } from '../../src/model/random.ts';
import { writeTokenizer } from '../../src/model/tokenizer.ts';
import { cli, cliEnv, expectOneLineError, ROOT } from '../helpers/cli.ts';
import { testTokenizer } from '../helpers/models.ts';

// Bad inputs, tried as a person would, one `it` per case.
const dir = mkdtempSync(join(tmpdir(), 'wm-reliability-'));

/** A checkpoint of a small GQA model with a separate classifier whose every weight is `value`. */
function constantCheckpoint(name: string, value: number): string {
  const m = randomModel({ dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, seqLen: 48, sharedClassifier: false }, 5);
  for (const t of Object.values(m.weights)) (t as Float32Array).fill(value);
  const p = join(dir, name);
  writeFileSync(p, writeCheckpoint(m));
  return p;
}

// A driver that cannot exist: a command that started the GPU would fail naming it.
const NO_GPU = { WAFERMESH_DRIVER: 'no-such-driver' };

describe('non-finite logits are refused by every engine the way the CPU engine refuses them', () => {
  it('weights of 1e30 (finite, but their squares overflow float32): the same line from cpu, gpu and mesh, before anything runs', () => {
    const p = constantCheckpoint('huge.bin', 1e30);
    const lines = (['cpu', 'gpu', 'mesh'] as const).map((engine) => {
      const r = cli('generate', '--model', p, '--engine', engine, '--tokens', '3');
      expect(r.stdout).toBe('');
      return expectOneLineError(r, /huge\.bin: weight token_embedding_table\[0\] is 1\.00e\+30, beyond ±1\.8e19: its square overflows float32, so every engine would compute non-finite values/);
    });
    expect(new Set(lines).size).toBe(1);
  });

  it('weights of 1e10 (the logits become NaN): cpu, gpu and mesh, greedy and sampled, refuse with the same line, printing no id', () => {
    const p = constantCheckpoint('nan-logits.bin', 1e10);
    const runs = [
      ['--engine', 'cpu'],
      ['--engine', 'gpu'],
      ['--engine', 'gpu', '--temperature', '1'],
      ['--engine', 'cpu', '--temperature', '1'],
      ['--engine', 'mesh'],
      ['--engine', 'mesh', '--temperature', '1'],
    ];
    const lines = runs.map((args) => {
      const r = cli('generate', '--model', p, '--tokens', '3', ...args);
      expect(r.stdout.trim(), args.join(' ')).toBe('');
      return expectOneLineError(r, /^wafermesh generate: a logit at position 0 is not finite \(NaN or infinite\), so no token is chosen; the model's weights overflow float32 arithmetic or are corrupt$/);
    });
    expect(new Set(lines).size).toBe(1);
  });
});

describe('every option and path is checked before any GPU work starts', () => {
  it('bench: --suite quick, a --json path in a missing directory, --meshes abc, --contexts x, --engines meh', () => {
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--suite', 'quick'), /^wafermesh bench: --suite quick is not one of default, engines, prompt; see `wafermesh bench --help`$/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--json', '/nonexistent/dir/out.jsonl'), /^wafermesh bench: --json \/nonexistent\/dir\/out\.jsonl: the directory \/nonexistent\/dir does not exist; create it or write elsewhere$/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--md', dir), /--md .* is a directory; give a file name/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--svg', '/nonexistent/plots-'), /--svg .*the directory \/nonexistent does not exist/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--meshes', 'abc'), /^wafermesh bench: --meshes "abc" is not WIDTHxHEIGHT, e.g\. 8x8 or 6x10$/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--meshes', '8x8,0x4'), /--meshes 0x4: each side must be 1…2048 cores/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--contexts', '0,x'), /--contexts: "x" is not a whole number/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--engines', 'gpu,meh'), /--engines: "meh" is not one of cpu, gpu, mesh, c \(did you mean mesh\?\)/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--gpu-preset', 'wse-3'), /--gpu-preset wse-3 is not one of/);
    // A sweep's option where that sweep does not run is refused, not ignored.
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--suite', 'engines', '--meshes', '8x8'), /--meshes sweeps the mesh engine in the default suite; it does nothing with --suite engines$/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--engines', 'cpu,gpu', '--meshes', '8x8'), /--meshes .* it does nothing with --suite default and --engines cpu,gpu$/);
    expectOneLineError(cliEnv(NO_GPU, 'bench', '--suite', 'prompt', '--contexts', '0'), /--contexts sweeps the context in the default suite/);
  });

  it('generate: an engine, a preset, a mesh, an SRAM size and a tokenizer path, each named in its own words', () => {
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'tpu'), /^wafermesh generate: --engine tpu is not one of cpu, gpu, mesh/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'mesh', '--preset', 'wse3'), /--preset wse3 is not one of wse-3, .* \(did you mean wse-3\?\)/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'mesh', '--mesh', '8by8'), /--mesh "8by8" is not WIDTHxHEIGHT/);
    const sram = expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'mesh', '--sram', '0'), /^wafermesh generate: --sram 0 is out of range; use a multiple of 4 from 1024 to \d+ bytes per core$/);
    expect(sram).not.toMatch(/sramBytes/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'gpu', '--tokenizer', join(dir, 'none.bin')), /tokenizer .*none\.bin does not exist/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'gpu', '--allreduce', 'star'), /--allreduce star is not one of chain, ring, ktree/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'gpu', '--tokens'), /^wafermesh generate: --tokens needs a value; see/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'gpu', '--tokens', '-3'), /^wafermesh generate: --tokens -3 must be 0 or more$/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'gpu', '--temperature', '-0.5'), /^wafermesh generate: --temperature -0\.5 must be 0 or more/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'mesh', '--top-p', '1.5'), /^wafermesh generate: --top-p 1\.5 must be more than 0 and at most 1/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--engine', 'gpu', '--prompt', 'Once upon a time '.repeat(100)), /^wafermesh generate: the prompt is \d+ tokens with BOS but the context \(seq_len\) is 256; shorten the prompt$/);
    expectOneLineError(cliEnv(NO_GPU, 'generate', '--tokns', '3'), /^wafermesh generate: unknown option --tokns \(did you mean --tokens\?\); see/);
  });
});

describe('predict suggests from everything it takes', () => {
  it('an unknown model lists every catalog model, llama names included, and the closest', () => {
    const line = expectOneLineError(cli('predict', '--model', 'llama-9'), /model "llama-9" is neither a known name \(.*\), a random:<spec>, nor an existing file \(did you mean llama-/);
    expect(line).toMatch(/llama-3\.1-8b/);
    expect(line).toMatch(/llama-3\.1-70b/);
    expect(line).toMatch(/wm-stories/);
  });

  it('unknown hardware lists wafers and GPUs alike', () => {
    const line = expectOneLineError(cli('predict', '--hardware', 'tpu'), /--hardware tpu is not one of /);
    expect(line).toMatch(/\bwse-3\b/);
    expect(line).toMatch(/\bh100\b/);
  });
});

describe('messages name no internal field or code', () => {
  it('a corrupt header says n_heads, as llama2.c names it', () => {
    const p = join(dir, 'heads.bin');
    const m = randomModel({ dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, seqLen: 48, sharedClassifier: false }, 5);
    const b = Buffer.from(writeCheckpoint(m));
    b.writeInt32LE(3, 12); // n_heads 4 -> 3: dim 32 is not a multiple
    writeFileSync(p, b);
    const line = expectOneLineError(cli('generate', '--model', p), /dim = 32 is not a multiple of n_heads = 3/);
    expect(line).not.toMatch(/nHeads|bad-config|bad-checkpoint/);
  });
});

describe("Dawn's warnings", () => {
  it('info prints nothing on stderr (no "artificially reduced" lines)', () => {
    const r = cli('info');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^adapter /m);
    expect(r.stderr).toBe('');
  });

  it('a GPU generate prints only its own summary on stderr', () => {
    const r = cli('generate', '--engine', 'gpu', '--model', 'stories260K', '--tokens', '3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/artificially reduced/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('--help', () => {
  it('describes every option of every command', () => {
    for (const name of Object.keys(COMMANDS)) {
      const help = commandHelp(name);
      for (const opt of Object.keys(COMMANDS[name].options)) {
        const line = help.split('\n').find((l) => l.startsWith(`  --${opt} `) || l === `  --${opt}`);
        expect(line, `${name} --${opt}`).toBeDefined();
        // After the option and its <value>, a description of at least a few words.
        const description = line!.trim().split(/ {2,}/)[1] ?? '';
        expect(description, `${name} --${opt}: ${line}`).toMatch(/(\w+\W+){3}/);
      }
    }
  });

  it("shows an empty default as empty, never as '(default )'", () => {
    const help = commandHelp('generate');
    expect(help).not.toMatch(/\(default \)/);
    expect(help).toMatch(/^ {2}--prompt TEXT +\S.*\(default: empty\)$/m);
    expect(help).toMatch(/^ {2}--tokens N +\S.*\(default: 256\)$/m);
  });

  it('lists the presets and models with what each is', () => {
    const gen = commandHelp('generate');
    expect(gen).toMatch(/^wafer presets \(--preset\):\n {2}wse-3 +\S.*$/m);
    expect(gen).toMatch(/^models \(--model\):\n(.*\n)* {2}stories260K +Karpathy's/m);
    expect(gen).toMatch(/^ {2}wm-stories +\S/m);
    const predict = commandHelp('predict');
    expect(predict).toMatch(/^hardware presets \(--hardware\):$/m);
    expect(predict).toMatch(/^ {2}h100 +\S/m);
    expect(predict).toMatch(/^ {2}llama-3\.1-8b +\S/m);
    expect(commandHelp('bench')).toMatch(/^GPU presets \(--gpu-preset\):\n {2}\S+ +\S/m);
  });

  it('runs as `wafermesh <command> --help`, exit 0', () => {
    const r = cli('generate', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--engine cpu\|gpu\|mesh +the machine that decodes/);
  });
});

describe('tokens/s leaves warm-up out', () => {
  it('the summary gives the time to the first id apart and the decode rate over the steps after it', () => {
    const r = cli('generate', '--model', 'stories260K', '--tokens', '3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toMatch(/^\[cpu\] 3 tokens: the first after [\d.]+ ms \(prefill of 1 position, batched\), then [\d.]+ tok\/s over 2 \(wall clock, warm-up excluded\), stop: tokens$/);
    const j = JSON.parse(cli('generate', '--model', 'stories260K', '--tokens', '3', '--json').stdout);
    expect(j.timings.decode_tokens).toBe(2);
    expect(j.timings.decode_tokens_per_s).toBeGreaterThan(0);
    expect(j.timings.ttft_ms).toBeGreaterThan(0);
  });
});

describe('checkpoints and tokenizers are paired by sha256', () => {
  const wmTokenizer = resolve(ROOT, 'public/models/wm-stories.tok.bin');

  it("stories260K with wm-stories' tokenizer (same vocabulary size): a warning naming both, then it runs", () => {
    const r = cli('generate', '--model', 'stories260K', '--tokenizer', wmTokenizer, '--tokens', '3');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^wafermesh generate: warning: the tokenizer .*wm-stories\.tok\.bin belongs to wm-stories, but the checkpoint stories260K is stories260K; its ids will decode to the wrong text/);
    expect(lines).toHaveLength(2);
  });

  it('wm-stories with another 512-token tokenizer: a warning that it is not its own', () => {
    const other = join(dir, 'other512.tok.bin');
    writeFileSync(other, writeTokenizer(testTokenizer(512, [' a', 'b'])));
    const r = cli('generate', '--tokenizer', other, '--tokens', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^wafermesh generate: warning: the tokenizer .*other512\.tok\.bin is not the one wm-stories was trained with \(sha256 [0-9a-f]{12}…, not c9ac2509e045…\)/);
  });

  it('wm-stories with its own tokenizer, or given it by path: no warning', () => {
    for (const args of [[], ['--tokenizer', wmTokenizer]]) {
      const r = cli('generate', '--tokens', '2', ...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/warning/);
    }
  });
});

describe('a GPU device lost mid-run (the test hook loses it outside dispose)', () => {
  for (const engine of ['gpu', 'mesh']) {
    it(`${engine}: the ids generated so far are printed, then one line says the device was lost and after how many tokens`, () => {
      const whole = cli('generate', '--engine', engine, '--model', 'stories260K', '--tokens', '8');
      expect(whole.code, whole.stderr).toBe(0);
      const r = cliEnv({ WAFERMESH_TEST_LOSE_DEVICE_AFTER: '3' }, 'generate', '--engine', engine, '--model', 'stories260K', '--tokens', '8');
      expectOneLineError(r, /^wafermesh generate: the GPU device was lost \(.*\) after 3 of 8 tokens; the 3 generated before it are printed above; run the command again$/);
      expect(r.stdout.trim().split(' ')).toEqual(whole.stdout.trim().split(' ').slice(0, 3));
    });
  }

  it('--json: the ids so far with stop "device-lost"', () => {
    const r = cliEnv({ WAFERMESH_TEST_LOSE_DEVICE_AFTER: '2' }, 'generate', '--engine', 'gpu', '--prompt', 'Once upon a time', '--tokens', '6', '--json');
    expectOneLineError(r, /the GPU device was lost .* after 2 of 6 tokens/);
    const out = JSON.parse(r.stdout);
    expect(out.stop).toBe('device-lost');
    expect(out.ids).toHaveLength(2);
    expect(out.error).toMatch(/the GPU device was lost/);
    expect(typeof out.text).toBe('string');
  });
});

describe('tools/setup.sh takes the apt mirror from the machine', () => {
  /** `setup.sh --print-mirror` under an apt configuration of our own (APT_CONFIG). */
  function mirrorWith(files: Record<string, string>, env: Record<string, string> = {}): string {
    const etc = mkdtempSync(join(tmpdir(), 'wm-apt-'));
    mkdirSync(join(etc, 'sources.list.d'));
    mkdirSync(join(etc, 'apt.conf.d'));
    writeFileSync(join(etc, 'apt.conf'), `Dir::Etc "${etc}/";\nDir::Etc::sourcelist "sources.list";\nDir::Etc::sourceparts "sources.list.d";\nDir::Etc::parts "apt.conf.d";\n`);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(etc, name), text);
    const r = spawnSync('bash', [resolve(ROOT, 'tools/setup.sh'), '--print-mirror'], { encoding: 'utf8', env: { ...process.env, APT_CONFIG: join(etc, 'apt.conf'), WAFERMESH_APT_MIRROR: '', ...env } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  }
  const codename = spawnSync('bash', ['-c', '. /etc/os-release && echo "$VERSION_CODENAME"'], { encoding: 'utf8' }).stdout.trim() || 'bookworm';

  it('a one-line sources.list entry (with options), not its deb-src line', () => {
    expect(mirrorWith({ 'sources.list': `deb-src http://src.example/debian ${codename} main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ ${codename} main\n` })).toBe('http://mirror.example/debian');
  });

  it('a deb822 .sources stanza through a caching proxy, skipping the security suite', () => {
    const sources = `Types: deb\nURIs: http://security.example/debian-security\nSuites: ${codename}-security\nComponents: main\n\nTypes: deb\nURIs: http://apt-cache.example:3142/debian\nSuites: ${codename} ${codename}-updates\nComponents: main\n`;
    expect(mirrorWith({ 'sources.list.d/debian.sources': sources })).toBe('http://apt-cache.example:3142/debian');
  });

  it('deb.debian.org when apt names none, and WAFERMESH_APT_MIRROR over everything', () => {
    expect(mirrorWith({})).toBe('http://deb.debian.org/debian');
    expect(mirrorWith({ 'sources.list': `deb http://mirror.example/debian ${codename} main\n` }, { WAFERMESH_APT_MIRROR: 'http://mine.example/debian/' })).toBe('http://mine.example/debian');
  });
});
