import * as http from 'node:http';

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One request over a unix socket or to 127.0.0.1:port; rejects with the socket error. */
export function get(target: string | number, path = '/', timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const where = typeof target === 'number' ? { host: '127.0.0.1', port: target } : { socketPath: target };
    const req = http.get({ ...where, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export async function getJson<T = Record<string, unknown>>(target: string | number, path = '/'): Promise<T> {
  const r = await get(target, path);
  return JSON.parse(r.body) as T;
}
