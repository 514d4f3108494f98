// The bench's read of a real Mantou's collections through its admin /stats, around a burst of garbage-making
// requests, and what it makes of a port that does not answer.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gcBetween, readProxyGc } from '../../../bench/proxy-gc.ts';
import { edgeConfig } from '../../helpers/configs.ts';
import { request } from '../../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../../helpers/proxy-process.ts';

// Short-lived objects for the young generation to fill, per request.
const garbageModule = join(tmpdir(), `mantou-garbage-${process.pid}.ts`);
writeFileSync(
  garbageModule,
  `import { defineFilter, T } from 'mantou';
let sink: unknown = null;
export const lastGarbage = () => sink;
export default defineFilter({
  name: 'garbage',
  config: T.Object({}),
  create: () => ({
    onRequest() {
      // Each object escapes to a module variable (else the optimizer removes the allocation) and dies at the next.
      for (let i = 0; i < 500_000; i++) sink = { i, s: \`x\${i}\` };
    },
  }),
});
`,
);

const OK = '{ directResponse: { status: 200, body: ok } }';

describe('the bench reading the proxy’s collections', () => {
  let proxy: ProxyProcess | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  it('counts the collections between two reads of /stats', async () => {
    proxy = await startProxy(edgeConfig([OK], {}, 1, [`filters: [{ name: garbage, module: ${garbageModule} }]`]));
    const before = await readProxyGc(proxy.adminPort);
    expect(before).not.toBeNull();
    for (let i = 0; i < 10; i++) expect((await request({ port: proxy.port('edge'), path: '/' })).status).toBe(200);
    const round = gcBetween(before, await readProxyGc(proxy.adminPort));
    expect(round?.collections).toBeGreaterThan(0);
    expect(round?.pauseMs).toBeGreaterThan(0);
    expect(round?.majorCollections).toBeGreaterThanOrEqual(0);
  }, 20_000);

  it('gives null for a port that answers nothing useful, and for a missing read', async () => {
    const notAdmin = net.createServer((s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'));
    await new Promise<void>((r) => notAdmin.listen(0, '127.0.0.1', r));
    const port = (notAdmin.address() as net.AddressInfo).port;
    expect(await readProxyGc(port)).toBeNull();
    notAdmin.close();
    expect(await readProxyGc(port)).toBeNull();
    expect(gcBetween(null, { gcCollections: 1, gcPauseMs: 1, gcMajorCollections: 0, gcMajorPauseMs: 0, gcLongestPauseMs: 1 })).toBeNull();
  });
});
