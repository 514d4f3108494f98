// The measured proxy's own garbage collections in a latency round, read from Mantou's admin /stats (its workers'
// and its main thread's gc counters, core/gc-stats.ts) just before and just after the round — outside the measured window, so the
// reads cost the round nothing. A collection is the proxy's own cost and stays in its numbers; the report names
// the rounds it touched, so that a stall in a p99 can be told from the hour's noise (the 14:57 run of
// 2026-12-02 had Mantou's 64 KiB upload p99 at 12 ms in every round at 1,000 req/s, 1.6 ms alone at 16:02).

import http from 'node:http';
import { addGcCounters, type GcCounters, newGcCounters, toWholeMicroseconds } from '../core/gc-stats.ts';

/** The collections of a round: the differences of the counters across it. */
export interface RoundGc {
  collections: number;
  pauseMs: number;
  majorCollections: number;
  majorPauseMs: number;
}

const READ_TIMEOUT_MS = 2_000;

/** The proxy's gc counters now, or null if its admin port did not answer them in time. */
export function readProxyGc(adminPort: number): Promise<GcCounters | null> {
  return new Promise((resolve) => {
    // A connection of its own, closed at once: a kept-alive one would be closed by the admin port's idle timer
    // inside the next round, waking the proxy there.
    const options = { host: '127.0.0.1', port: adminPort, path: '/stats', timeout: READ_TIMEOUT_MS, agent: false, headers: { connection: 'close' } };
    const req = http.get(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        try {
          const s = JSON.parse(body) as Partial<GcCounters> & { supervisorGc?: Partial<GcCounters> };
          if (typeof s.gcCollections !== 'number') return resolve(null);
          // The workers' and the main thread's: both run on the proxy's core.
          const both = newGcCounters();
          addGcCounters(both, s);
          addGcCounters(both, s.supervisorGc ?? {});
          resolve(both);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** What the proxy collected between two reads (null when either is missing). */
export function gcBetween(before: GcCounters | null, after: GcCounters | null): RoundGc | null {
  if (before === null || after === null) return null;
  const ms = toWholeMicroseconds;
  return {
    collections: after.gcCollections - before.gcCollections,
    pauseMs: ms(after.gcPauseMs - before.gcPauseMs),
    majorCollections: after.gcMajorCollections - before.gcMajorCollections,
    majorPauseMs: ms(after.gcMajorPauseMs - before.gcMajorPauseMs),
  };
}
