import type { RequestRecord } from './record';

export interface AchievedRate {
  /** requests per second asked; undefined = as fast as possible */
  asked?: number;
  /** requests per second sent, over the run's duration */
  achieved: number;
  requests: number;
  seconds: number;
  /** the load generator fell short of the asked rate by more than a tenth */
  short: boolean;
}

/**
 * What the run reached beside what was asked: a rate above what the connections can carry
 * (each waits for its answer) is not refused, since the most it can do is a fair ask, but it
 * must not pass for the rate that was reached.
 */
export function achievedRate(records: readonly RequestRecord[], durationMs: number, asked?: number): AchievedRate {
  const seconds = durationMs / 1000;
  const achieved = seconds > 0 ? records.length / seconds : 0;
  return { asked, achieved, requests: records.length, seconds, short: asked !== undefined && achieved < asked * 0.9 };
}

const perSecond = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;

export function formatRate(r: AchievedRate, concurrency: number): string {
  const reached = `achieved ${perSecond(r.achieved)} (${r.requests} requests in ${r.seconds} s)`;
  if (r.asked === undefined) return `rate: as fast as possible, ${reached}`;
  const line = `rate: asked ${perSecond(r.asked)}, ${reached}`;
  return r.short
    ? `${line}; ${concurrency} connections, each waiting for its answer, could not send more: ` +
        `raise --concurrency or lower --rate`
    : line;
}
