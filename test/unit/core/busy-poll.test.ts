// Busy polling (native/busy-poll.c through core/busy-poll.ts) on this test's own event loop: after real loopback
// I/O the loop goes round without sleeping while a budget is set, and not at all once it is set back to 0.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBusyPoll, busyPollSpins } from '../../../core/busy-poll.ts';
import { loadNativeAddon } from '../../../core/native-addon.ts';

const built = loadNativeAddon<object>().addon !== null;
let server: net.Server;
let port = 0;

/** One round trip over loopback: I/O the loop's poll reports. */
async function roundTrip(): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', () => resolve());
    socket.write('ping');
  });
  socket.destroy();
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = net.createServer((s) => s.on('data', (d) => s.end(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  applyBusyPoll(0);
  await new Promise((r) => server.close(r));
});

describe.skipIf(!built)('busy polling', () => {
  it('keeps the loop polling after I/O while set, and stops when set to 0', async () => {
    applyBusyPoll(1000);
    const before = busyPollSpins();
    await roundTrip();
    await pause(20);
    expect(busyPollSpins()).toBeGreaterThan(before);

    applyBusyPoll(0);
    const off = busyPollSpins();
    await roundTrip();
    await pause(20);
    expect(busyPollSpins()).toBe(off);
  });

  it('rests between bursts: with nothing to read the loop sleeps again once the budget is spent', async () => {
    applyBusyPoll(1000);
    const before = busyPollSpins();
    await roundTrip();
    await pause(20);
    // The spins of one burst of I/O with a 1 ms budget: what a loop that never slept would spin every millisecond.
    const burst = busyPollSpins() - before;
    await pause(50);
    const settled = busyPollSpins();
    await pause(100);
    // No I/O of ours in these 100 ms. A loop that kept polling would have spun about 100 bursts' worth; one that
    // sleeps spins only after the odd event of the test runner's own (its IPC with vitest, found under a loaded
    // full run: a few hundred spins where an idle file run has none), a budget's worth each.
    expect(busyPollSpins() - settled).toBeLessThan(burst * 20);
    applyBusyPoll(0);
  });
});
