// The hour's floor for a proxy hop, measured beside each run: an idle round trip between the load CPU and the
// proxy's CPU (bench/upstream/wake-probe.c). A proxy on its own core pays two such crossings per request; `direct`
// pays none, so "added" latency includes them, and on this VM they moved from hour to hour by more than the
// differences between proxies (2026-12-02 14:40: p50 165 µs across CPUs, 8 µs within one).

import { execFileSync } from 'node:child_process';
import { compiledBenchProgram } from './upstream.ts';

export interface WakeFloor {
  p50Us: number;
  p99Us: number;
  maxUs: number;
  samples: number;
}

const SAMPLES = 2000;
const INTERVAL_US = 1000;

/** 2,000 idle round trips between `cpuA` and `cpuB`, one a millisecond (2 s); null, and why on stderr, if it cannot run. */
export function measureWakeFloor(cpuA: string, cpuB: string): WakeFloor | null {
  const probe = compiledBenchProgram('wake-probe', ['-pthread']);
  if (probe.path === null) {
    process.stderr.write(`bench: the wake probe cannot be built (${probe.why}); no floor recorded\n`);
    return null;
  }
  try {
    const line = execFileSync(probe.path, [cpuA, cpuB, String(SAMPLES), String(INTERVAL_US)], { encoding: 'utf8', timeout: 30_000 });
    const m = /p50 (\d+) p99 (\d+) max (\d+) n (\d+)/.exec(line);
    if (m === null) return null;
    return { p50Us: Number(m[1]), p99Us: Number(m[2]), maxUs: Number(m[3]), samples: Number(m[4]) };
  } catch (err) {
    process.stderr.write(`bench: the wake probe failed (${(err as Error).message.split('\n')[0]}); no floor recorded\n`);
    return null;
  }
}

export const describeWakeFloor = (f: WakeFloor): string => `p50 ${f.p50Us} µs, p99 ${f.p99Us} µs, max ${f.maxUs} µs`;

/** The console line every bench prints for a floor it measured, so that runs' logs read alike. */
export const wakeFloorLogLine = (when: 'before' | 'after', cpuA: string, cpuB: string, f: WakeFloor): string =>
  `floor ${when} the run (idle round trip, CPU ${cpuA} to ${cpuB}): ${describeWakeFloor(f)}`;
