import type { HandoffReport, PrefillReport, PrefillStat, ServingMode } from '../worker/types.ts';
import { formatSeconds } from './race-clock.ts';

/**
 * Where a race pane is, as pure arithmetic on the race clock (tested without a browser): its
 * prefill, the KV cache's crossing (the disaggregated mode), its decode, or done — and its time to
 * first token, modelled at the preset hardware and measured here, each labelled which it is.
 */

/** A pane's stage: before anything is decoded here, its prefill, the hand-off, its decode, done. */
export type Stage = 'waiting' | 'prefill' | 'handoff' | 'decode' | 'done';

export interface PaneStage {
  serving: ServingMode;
  stage: Stage;
  /** The prefill this pane shows: its own; the wafer's is null when the GPU prefills for it (disaggregated). */
  prefill: PrefillStat | null;
  /** The disaggregated mode: the KV cache's crossing. */
  handoff: HandoffReport | null;
  /** Modelled seconds to this pane's first id, and measured wall ms here; null for the GPU pane when it only prefills for the wafer. */
  ttftSeconds: number | null;
  ttftWallMs: number | null;
  /** The GPU pane in the disaggregated mode: it prefills and hands over, and decodes nothing. */
  prefillOnly: boolean;
  /** The wafer pane in the disaggregated mode: its time to first token had it prefilled alone (modelled); null otherwise. */
  aloneSeconds: number | null;
}

export interface StageInput {
  machine: 'mesh' | 'gpu';
  serving: ServingMode;
  /** The first token's prefill report, once decoded here. */
  report: PrefillReport | null;
  /** Tokens this pane has shown, and will show in all (its track's length). */
  revealed: number;
  total: number;
  /** Every token is decoded (the track is whole). */
  decoded: boolean;
  /** The race clock is held to show the hand-off (disaggregated). */
  holding: boolean;
}

export function paneStage(x: StageInput): PaneStage {
  const r = x.report;
  const prefillOnly = x.serving === 'disaggregated' && x.machine === 'gpu';
  const base = { serving: x.serving, handoff: r?.handoff ?? null, prefillOnly, aloneSeconds: x.machine === 'mesh' ? (r?.meshAloneSeconds ?? null) : null };
  if (!r) return { ...base, stage: 'waiting', prefill: null, ttftSeconds: null, ttftWallMs: null };
  const prefill = x.machine === 'gpu' ? r.gpu : r.mesh;
  const ttftSeconds = prefillOnly ? null : x.machine === 'gpu' ? r.gpu.modelledSeconds : r.meshTtftSeconds;
  const ttftWallMs = prefillOnly ? null : x.machine === 'gpu' ? r.gpu.wallMs : r.meshTtftWallMs;
  const finished = x.decoded && x.total > 0 && x.revealed >= x.total;
  let stage: Stage;
  if (prefillOnly) stage = x.revealed === 0 ? 'prefill' : x.holding ? 'handoff' : 'done';
  else if (x.serving === 'disaggregated' && x.machine === 'mesh' && (x.holding || x.revealed === 0)) {
    // The wafer waits for the GPU's prefill, then takes the KV cache in: shown as the hand-off while the clock holds on it.
    stage = x.holding ? 'handoff' : 'prefill';
  } else stage = x.revealed === 0 ? 'prefill' : finished ? 'done' : 'decode';
  return { ...base, stage, prefill, ttftSeconds, ttftWallMs };
}

/** "1.23 ms modelled (toy-gpu, batched prefill of 5 positions)" */
export function modelledTtft(seconds: number, p: PrefillStat | null, serving: ServingMode, handoff: HandoffReport | null): string {
  const how = handoff ? `the GPU's batched prefill of ${handoff.positions} positions, then the KV cache's hand-off` : p ? `${p.modelledHardware}, ${p.how === 'batched' ? 'batched prefill' : 'prefill token by token'} of ${p.positions} position${p.positions === 1 ? '' : 's'}` : serving;
  return `${formatSeconds(seconds)} modelled (${how})`;
}

/** "45.6 ms measured here (wall clock on this driver)", or why there is none. */
export function measuredTtft(ms: number | null): string {
  return ms === null ? 'not measured: the prompt was stepped by hand' : `${formatSeconds(ms / 1e3)} measured here (wall clock on this driver)`;
}

/** Bytes as "76,800 B (75.0 KiB)". */
export function formatBytes(b: number): string {
  const k = b / 1024;
  return `${Math.round(b).toLocaleString('en')} B${b >= 1024 ? ` (${k >= 1024 ? `${(k / 1024).toFixed(1)} MiB` : `${k.toFixed(1)} KiB`})` : ''}`;
}

/** The hand-off in lines: bytes as counted, its modelled time and what sets it, the measured wall clock here. */
export function handoffLines(h: HandoffReport): { name: string; value: string }[] {
  const slower = h.edgeSeconds > h.networkSeconds ? h.edge : h.network;
  return [
    { name: 'KV cache handed over', value: formatBytes(h.bytes) },
    {
      name: 'hand-off time (modelled)',
      value: `${formatSeconds(h.modelledSeconds)}: ${formatSeconds(h.networkSeconds)} over ${h.network}${h.latencyAssumed ? ' (latency assumed)' : ''}, ${h.edgeWords === null ? 'no wafer edge (the CPU stands in)' : `${formatSeconds(h.edgeSeconds)} through ${h.edge}`}; the slower (${slower}) plus ${formatSeconds(h.fabricSeconds)} of fabric phases`,
    },
    { name: 'hand-off here (measured)', value: `${formatSeconds(h.wallMs / 1e3)} wall clock: the GPU's export and the wafer's import` },
  ];
}
