import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { GpuHardware } from '../../cost/hardware.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { describeConfig, type ModelConfig } from '../../model/config.ts';
import { PROJECT_ROOT } from '../load.ts';
import { lineChartSvg, type Series } from '../plot.ts';
import type { BenchResult } from './run.ts';

/** The project's commit, short, or "unknown" outside a git checkout. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export interface HeaderInfo {
  commit: string;
  gpu?: GpuContext;
  model: string;
  config: ModelConfig;
  preset: string;
  allreduce: string;
  tokens: number;
  repeats: number;
  gpuHw: GpuHardware;
}

/** The header (llm.c's): machine, adapter and driver, commit, config, and what is measured vs modelled. */
export function header(h: HeaderInfo): string[] {
  return [
    `wafermesh bench — ${new Date().toISOString()}, commit ${h.commit}, node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? '?'}`,
    `adapter: ${h.gpu ? `${h.gpu.adapterName} — ${h.gpu.driver.detail}` : 'none needed'}`,
    `model: ${h.model} (${describeConfig(h.config)}); mesh preset ${h.preset}, allreduce ${h.allreduce}; ${h.tokens} tokens x ${h.repeats} repeats after a warm-up`,
    `measured: wall clock on this machine's driver (tokens/s = median of the repeats, [min–max]); the clock stops when the token's logits (on the mesh, the id it found) are back on the CPU, after the GPU's work is done`,
    `modelled: mesh at the ${h.preset} preset (cycles of the fabric decode's trace at its clock; its fabric words are counted where they moved); gpu at ${h.gpuHw.name} (${h.gpuHw.description}); energy from the cost model's per-operation costs`,
  ];
}

/** The fixed-width table's column heads, aligned with `formatLine`. */
export const COLUMNS = `${'suite'.padEnd(11)} ${'engine'.padEnd(6)} ${'model'.padEnd(14)} ${'mesh'.padEnd(7)} ${'ctx'.padStart(4)} ${'tok/s'.padStart(9)} ${'[min–max]'.padStart(17)} ${'passes'.padStart(6)} ${'model tok/s'.padStart(12)} ${'fabric w/tok'.padStart(12)} ${'offchip B/tok'.padStart(13)} ${'µJ/tok'.padStart(8)} ${'max|Δlogit|'.padStart(11)}`;

const fmt = (x: number | null, d = 1) => (x === null ? '-' : x >= 1e6 ? x.toExponential(2) : x.toFixed(d));

/** One fixed-width line per case. */
export function formatLine(r: BenchResult): string {
  if (r.error) return `${r.suite.padEnd(11)} ${r.engine.padEnd(6)} ${r.model.padEnd(14)} ${(r.mesh ?? '-').padEnd(7)} ${String(r.context).padStart(4)} error: ${r.error}`;
  return (
    `${r.suite.padEnd(11)} ${r.engine.padEnd(6)} ${r.model.padEnd(14)} ${(r.mesh ?? '-').padEnd(7)} ${String(r.context).padStart(4)} ` +
    `${fmt(r.tokens_per_s).padStart(9)} ${`[${fmt(r.tokens_per_s_min)}–${fmt(r.tokens_per_s_max)}]`.padStart(17)} ${String(r.passes_per_token ?? '-').padStart(6)} ` +
    `${fmt(r.modelled_tokens_per_s, 0).padStart(12)} ${fmt(r.fabric_words_per_token, 0).padStart(12)} ${fmt(r.offchip_bytes_per_token, 0).padStart(13)} ` +
    `${fmt(r.energy_uj_per_token, 2).padStart(8)} ${(r.max_abs_dlogit === null ? '-' : r.max_abs_dlogit.toExponential(1)).padStart(11)}`
  );
}

/** The prompt sweep's fixed-width column heads, aligned with `formatPromptLine`. */
export const PROMPT_COLUMNS = `${'suite'.padEnd(11)} ${'engine'.padEnd(6)} ${'model'.padEnd(14)} ${'mesh'.padEnd(7)} ${'prompt'.padStart(6)} ${'prefill'.padEnd(14)} ${'TTFT ms'.padStart(9)} ${'[min–max]'.padStart(17)} ${'prefill tok/s'.padStart(13)} ${'model TTFT ms'.padStart(13)} ${'decode tok/s'.padStart(12)} ${'max|Δlogit|'.padStart(11)}`;

const fmtMs = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x < 0.01 ? x.toExponential(2) : x.toFixed(x < 10 ? 3 : 1));

/** One fixed-width line per prompt-sweep case (measured TTFT and prefill rate, modelled TTFT, decode rate). */
export function formatPromptLine(r: BenchResult): string {
  const lead = `${r.suite.padEnd(11)} ${r.engine.padEnd(6)} ${r.model.padEnd(14)} ${(r.mesh ?? '-').padEnd(7)} ${String(r.prompt_tokens ?? r.sweep).padStart(6)} `;
  if (r.error) return `${lead}error: ${r.error}`;
  return (
    lead +
    `${(r.prefill ?? '-').padEnd(14)} ${fmtMs(r.ttft_ms).padStart(9)} ${`[${fmtMs(r.ttft_ms_min)}–${fmtMs(r.ttft_ms_max)}]`.padStart(17)} ${fmt(r.prefill_tokens_per_s ?? null).padStart(13)} ` +
    `${fmtMs(r.modelled_ttft_ms).padStart(13)} ${fmt(r.tokens_per_s).padStart(12)} ${(r.max_abs_dlogit === null ? '-' : r.max_abs_dlogit.toExponential(1)).padStart(11)}`
  );
}

/** One JSON object a line, each with the adapter and commit, for machines. */
export function jsonLines(results: BenchResult[], adapter: string | null, commit: string): string {
  return results.map((r) => JSON.stringify({ ...r, adapter, commit })).join('\n') + '\n';
}

/** The header and a table, for the README; the prompt sweep's rows in a table of their own. */
export function markdown(header: string[], all: BenchResult[]): string {
  const lines = header.map((h) => `${h}  `);
  const results = all.filter((r) => r.prompt_tokens === undefined && r.suite !== 'prompt');
  const prompts = all.filter((r) => !results.includes(r));
  if (results.length > 0) lines.push('', '| suite | engine | model | mesh | ctx | tok/s (median) | [min–max] | passes/tok | modelled tok/s | fabric words/tok | off-chip B/tok | µJ/tok (modelled) | max abs Δlogit |', '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.suite} | ${r.engine} | ${r.model} | ${r.mesh ?? '-'} | ${r.context} | error: ${r.error} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.suite} | ${r.engine} | ${r.model} | ${r.mesh ?? '-'} | ${r.context} | ${fmt(r.tokens_per_s)} | ${fmt(r.tokens_per_s_min)}–${fmt(r.tokens_per_s_max)} | ${r.passes_per_token ?? '-'} | ${fmt(r.modelled_tokens_per_s, 0)} | ${fmt(r.fabric_words_per_token, 0)} | ${fmt(r.offchip_bytes_per_token, 0)} | ${fmt(r.energy_uj_per_token, 2)} | ${r.max_abs_dlogit === null ? '-' : r.max_abs_dlogit.toExponential(1)} |`,
    );
  }
  if (prompts.length > 0) {
    lines.push(
      '',
      'Prompt sweep: time to first token (TTFT: the prompt through the model, then the first id) and prefill tokens/s measured (wall clock, median of the repeats); TTFT modelled for the GPU baseline (batched prefill) and the mesh (the prompt token by token, or, prefill `wafer fabric`, the wafer prefill on the fabric and its KV hand-off to the decode layout); decode tok/s after the first id.',
      '',
      '| engine | model | mesh | prompt tokens | prefill | TTFT ms (median) | [min–max] | prefill tok/s | modelled TTFT ms | decode tok/s | max abs Δlogit |',
      '|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of prompts) {
      const lead = `| ${r.engine} | ${r.model} | ${r.mesh ?? '-'} | ${r.prompt_tokens ?? r.sweep} |`;
      if (r.error) {
        lines.push(`${lead} error: ${r.error} | | | | | | |`);
        continue;
      }
      lines.push(
        `${lead} ${r.prefill} | ${fmtMs(r.ttft_ms)} | ${fmtMs(r.ttft_ms_min)}–${fmtMs(r.ttft_ms_max)} | ${fmt(r.prefill_tokens_per_s ?? null)} | ${fmtMs(r.modelled_ttft_ms)} | ${fmt(r.tokens_per_s)} | ${r.max_abs_dlogit === null ? '-' : r.max_abs_dlogit.toExponential(1)} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** One chart per sweep that has results: measured tokens/s per engine; `file` is the suffix after the prefix. */
export function sweepCharts(results: BenchResult[], model: string): { file: string; svg: string }[] {
  const charts: { file: string; svg: string }[] = [];
  for (const s of ['mesh size', 'context', 'model size']) {
    const rows = results.filter((r) => r.suite === s && !r.error);
    if (rows.length === 0) continue;
    const series: Series[] = [...new Set(rows.map((r) => r.engine))].map((e) => ({
      name: `${e} (measured)`,
      points: rows.filter((r) => r.engine === e).map((r) => ({ x: r.sweep, y: r.tokens_per_s })),
    }));
    charts.push({ file: `-${s.replace(/\s+/g, '-')}.svg`, svg: lineChartSvg(`${model}: tokens/s by ${s} (wall clock, this driver)`, s, 'tokens/s', series) });
  }
  const prompts = results.filter((r) => r.suite === 'prompt' && !r.error && r.ttft_ms !== undefined);
  if (prompts.length > 0) {
    // The mesh with the wafer prefill on the fabric is a series of its own.
    const key = (r: BenchResult) => (r.prefill === 'wafer fabric' ? `${r.engine} (fabric prefill)` : r.engine);
    const series: Series[] = [...new Set(prompts.map(key))].map((e) => ({
      name: `${e} (measured)`,
      points: prompts.filter((r) => key(r) === e).map((r) => ({ x: r.sweep, y: r.ttft_ms! })),
    }));
    charts.push({ file: '-prompt.svg', svg: lineChartSvg(`${model}: time to first token by prompt length (wall clock, this driver)`, 'prompt tokens', 'TTFT ms', series) });
  }
  return charts;
}

/** A progress bar on stderr, only on a terminal; `update(cases, '')` clears it. */
export function progressBar(cases: number): (i: number, what: string) => void {
  return (i, what) => {
    if (!process.stderr.isTTY && process.env.WAFERMESH_STDERR_TTY !== '1') return;
    const n = 30;
    const done = Math.round((i / cases) * n);
    process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(n - done)}] ${i}/${cases} ${what}`.padEnd(90).slice(0, 90));
    if (i === cases) process.stderr.write('\r'.padEnd(91) + '\r');
  };
}
