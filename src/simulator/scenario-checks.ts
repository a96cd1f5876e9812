/**
 * A scenario's expectations held against what the service recorded of the call (its record from
 * the call API) and what the simulator measured. Pure: every verdict comes from these inputs.
 */
import type { ApiCallRecord } from './call-api';
import { parseDuration } from './cli-options';
import type { ScenarioExpect } from './scenario';
import type { CallReport } from './simulated-call';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** What was found, for the table. */
  readonly detail: string;
}

/** Words a goodbye has in it. */
const GOODBYE = /\b(bye|goodbye|take care|have a (good|great|nice)|thank(s| you) for calling)\b/i;
/** End reasons of a call that ended as it should have, by either side. */
const NORMAL_ENDS = new Set(['hangup', 'twilio_stop', 'twilio_closed', 'caller_silent', 'transferred']);

interface PagingDetail {
  readonly pages?: ReadonlyArray<{ readonly status?: string; readonly to?: string }>;
}

/** The pages of the call's emergency that went out. */
export function sentPages(record: ApiCallRecord): number {
  const paging = record.details.paging as PagingDetail | undefined;
  return (paging?.pages ?? []).filter((p) => p.status === 'sent').length;
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export function checkScenario(expect: ScenarioExpect, record: ApiCallRecord, report: CallReport): CheckResult[] {
  const results: CheckResult[] = [];
  const agentTurns = record.transcript.filter((t) => t.speaker === 'agent');

  if (expect.jobRequest === null) {
    const saved = record.details.jobRequest;
    results.push({ name: 'no job request', ok: saved === undefined || saved === null, detail: saved ? `saved: ${JSON.stringify(saved)}` : 'none saved' });
  } else if (expect.jobRequest) {
    const saved = (record.details.jobRequest ?? null) as Record<string, unknown> | null;
    for (const [field, want] of Object.entries(expect.jobRequest)) {
      const got = saved?.[field];
      const ok = typeof want === 'string' ? typeof got === 'string' && got.toLowerCase().includes(want.toLowerCase()) : got === want;
      results.push({ name: `jobRequest.${field}`, ok, detail: saved === null ? 'no job request saved' : `${show(got)}${ok ? '' : `, expected ${typeof want === 'string' ? 'to contain ' : ''}${show(want)}`}` });
    }
  }
  if (expect.paged !== undefined) {
    const pages = sentPages(record);
    results.push({ name: 'paged', ok: expect.paged === pages > 0, detail: `${pages} page(s) sent` });
  }
  if (expect.transferred !== undefined) {
    const transferred = record.endReason === 'transferred';
    results.push({ name: 'transferred', ok: expect.transferred === transferred, detail: `endReason ${show(record.endReason)}` });
  }
  if (expect.endReason !== undefined) {
    const allowed = Array.isArray(expect.endReason) ? expect.endReason : [expect.endReason];
    results.push({ name: 'endReason', ok: allowed.includes(record.endReason ?? ''), detail: `${show(record.endReason)}${allowed.includes(record.endReason ?? '') ? '' : `, expected ${allowed.join(' or ')}`}` });
  }
  if (expect.endedPolitely !== undefined) {
    const last = agentTurns[agentTurns.length - 1];
    const polite = last !== undefined && GOODBYE.test(last.text) && NORMAL_ENDS.has(record.endReason ?? '');
    results.push({ name: 'ended politely', ok: expect.endedPolitely === polite, detail: `last agent words ${last ? show(last.text.slice(-60)) : 'none'}, endReason ${show(record.endReason)}` });
  }
  if (expect.interrupted !== undefined) {
    const cut = agentTurns.filter((t) => t.interrupted).length;
    results.push({ name: 'interrupted', ok: expect.interrupted === cut > 0, detail: `${cut} agent turn(s) cut off, ${report.clears} clear(s)` });
  }
  for (const phrase of expect.agentSaid ?? []) {
    const said = agentTurns.some((t) => t.text.toLowerCase().includes(phrase.toLowerCase()));
    results.push({ name: `agent said ${show(phrase)}`, ok: said, detail: said ? 'said' : `not in ${agentTurns.length} agent turn(s)` });
  }
  if (expect.maxFirstAudio !== undefined) {
    const bound = parseDuration(expect.maxFirstAudio, 'maxFirstAudio');
    const ok = report.firstAudioMs !== null && report.firstAudioMs <= bound;
    results.push({ name: 'first audio', ok, detail: `${report.firstAudioMs === null ? 'none' : `${report.firstAudioMs} ms`} (max ${bound} ms)` });
  }
  if (expect.maxResponseLatency !== undefined) {
    const bound = parseDuration(expect.maxResponseLatency, 'maxResponseLatency');
    const latencies = report.turns.map((t) => t.latencyMs);
    const ok = latencies.length > 0 && latencies.every((l) => l !== null && l <= bound);
    results.push({ name: 'response latency', ok, detail: `${latencies.map((l) => (l === null ? 'no reply' : `${l} ms`)).join(', ') || 'no turns'} (max ${bound} ms)` });
  }
  return results;
}
