import { request } from 'undici';

/** Polls `origin` until nginx answers with a response that phoenix served (x-phoenix-pid). */
export async function waitForApp(
  origin: string,
  ms: number,
  isAlive: () => Promise<boolean>,
): Promise<{ pid: number; tookMs: number }> {
  const t0 = Date.now();
  let last = 'no answer yet';
  while (Date.now() - t0 < ms) {
    try {
      const res = await request(`${origin}/`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.text();
      const pid = res.headers['x-phoenix-pid'];
      if (res.statusCode === 200 && typeof pid === 'string') return { pid: Number(pid), tookMs: Date.now() - t0 };
      last = `HTTP ${res.statusCode}`;
    } catch (err) {
      last = (err as { code?: string }).code ?? (err as Error).message;
    }
    if (!(await isAlive())) throw new Error(`the container stopped while waiting for the app (last answer: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from the app through nginx at ${origin} within ${ms / 1000} s (last: ${last})`);
}
