// Per-process (and per-thread) CPU time and memory from /proc (Linux), for CPU per request and peak RSS.

import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: the clock ticks /proc counts CPU time in. */
export const CLOCK_TICKS_PER_S = 100;

/** A process's or a thread's name and CPU clock ticks (user, system), from its /proc stat line. */
export interface StatTimes {
  name: string;
  user: number;
  system: number;
}

/** Parses a /proc/<pid>/stat (or task/<tid>/stat) line; the name may contain spaces and parentheses. */
function statTimes(text: string): StatTimes {
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  return { name: text.slice(text.indexOf('(') + 1, close), user: Number(f[11]), system: Number(f[12]) };
}

/** User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const t = statTimes(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return (t.user + t.system) / CLOCK_TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Every thread of a process by thread id, with its name and CPU clock ticks so far. */
export function threadTimes(pid: number): Map<string, StatTimes> {
  const out = new Map<string, StatTimes>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(tid, statTimes(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Nanoseconds the threads of a process now alive have run so far (the first field of each
 * /proc/<pid>/task/<tid>/schedstat); 0 for a process that is gone. Finer than the clock ticks of cpuSeconds(): a
 * bystander's millisecond is visible.
 */
export function runNanos(pid: number): number {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  let total = 0;
  for (const tid of tids) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
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
  /** Time the hypervisor ran something else while this virtual CPU had work (counted in busy too). */
  steal: number;
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
    return { busy: total - (t[3] as number) - (t[4] as number), total, steal: t[7] as number };
  } catch {
    return null;
  }
}

/** The share of the time between two readings the hypervisor took from the CPU (0–1), or null. */
export function stealShare(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (before === null || after === null || after.total <= before.total) return null;
  return (after.steal - before.steal) / (after.total - before.total);
}

/** The share of the time between two readings that the CPU was busy (0–1), or null. */
export function busyShare(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (before === null || after === null || after.total <= before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}
