/** One request as the load generator saw it: the unit every verdict and chart is built from. */
export interface RequestRecord {
  /** ms since the run started */
  start: number;
  end: number;
  path: string;
  status?: number;
  /** failure class when the request failed; undefined on success */
  error?: FailureClass;
  /** who served it, from the wrapper's x-phoenix-* response headers */
  pid?: number;
  generation?: number;
}

export type FailureClass =
  'refused' | 'reset' | 'timeout' | 'http-502' | 'http-503' | 'http-504' | `http-${number}` | `error-${string}`;

export function classifyStatus(status: number): FailureClass | undefined {
  return status >= 200 && status < 400 ? undefined : (`http-${status}` as FailureClass);
}

export function classifyError(err: unknown): FailureClass {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  const code = e?.cause?.code ?? e?.code ?? e?.name ?? 'unknown';
  if (code === 'ECONNREFUSED' || code === 'ENOENT') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED')
    return 'reset';
  if (/TIMEOUT/i.test(code) || code === 'AbortError' || code === 'TimeoutError') return 'timeout';
  return `error-${code}`;
}
