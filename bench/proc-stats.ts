// Per-process CPU time and memory from /proc (Linux), for CPU per request and peak RSS.

import { readFileSync } from 'node:fs';

/** User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat (10 ms clock ticks). */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}

export interface CpuTicks {
  busy: number;
  total: number;
}

/** One CPU's busy and total clock ticks since boot, from /proc/stat; null where there is none. */
export function cpuTicks(cpu: string): CpuTicks | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const t = line?.split(/\s+/).slice(1, 9).map(Number);
    if (t === undefined || t.length < 8) return null;
    const total = t.reduce((a, x) => a + x, 0);
    return { busy: total - (t[3] as number) - (t[4] as number), total };
  } catch {
    return null;
  }
}

/** The share of the time between two readings that the CPU was busy (0–1), or null. */
export function busyShare(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (before === null || after === null || after.total <= before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}
