// A node:http client for integration tests: exact control of method, headers, body framing and connection reuse.

import http from 'node:http';

export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface ClientRequest {
  port: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** A Buffer is sent with Content-Length; an array of Buffers is sent chunked. */
  body?: Buffer | Buffer[];
  agent?: http.Agent | false;
}

export function request(r: ClientRequest): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.headers };
    if (Buffer.isBuffer(r.body)) headers['content-length'] = String(r.body.length);
    const req = http.request({ host: '127.0.0.1', port: r.port, method: r.method ?? 'GET', path: r.path ?? '/', headers, agent: r.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(r.body)) for (const c of r.body) req.write(c);
    else if (r.body) req.write(r.body);
    req.end();
  });
}

export function json<T>(res: ClientResponse): T {
  return JSON.parse(res.body.toString()) as T;
}
