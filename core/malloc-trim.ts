// Gives the C heap's free memory back to the system (native/malloc-trim.c says what stays behind and why). Called
// by the supervisor once every worker has applied a generation — after start-up and after each reload, when V8
// has just compiled every module and config-dependent function and freed the memory it compiled in — and never on
// the request path: the trim takes each arena's lock in turn, so a worker's malloc waits for it, about a
// millisecond (the time is logged).

import { componentLogger } from './logger.ts';
import { loadNativeAddon } from './native-addon.ts';

interface MallocTrimAddon {
  trimMalloc(): boolean;
}

const log = componentLogger('memory');
const loaded = loadNativeAddon<MallocTrimAddon>();

/** What a trim did: resident bytes before and after (the whole process), and how long it took. */
export interface TrimResult {
  rssBeforeBytes: number;
  rssAfterBytes: number;
  ms: number;
}

/** Trims the C heap (null without the addon, with one built before it had the trim, or without glibc). */
export function trimNativeHeap(): TrimResult | null {
  if (typeof loaded.addon?.trimMalloc !== 'function') return null;
  const rssBeforeBytes = process.memoryUsage.rss();
  const started = performance.now();
  const released = loaded.addon.trimMalloc();
  const ms = performance.now() - started;
  if (!released) return null;
  return { rssBeforeBytes, rssAfterBytes: process.memoryUsage.rss(), ms };
}

/** trimNativeHeap, logged at debug level with what it gave back; `when` says which moment ("start", "reload"). */
export function trimNativeHeapAndLog(when: string): void {
  const r = trimNativeHeap();
  if (r === null) return;
  log.debug(
    { when, rssBeforeMiB: toMiB(r.rssBeforeBytes), rssAfterMiB: toMiB(r.rssAfterBytes), ms: Math.round(r.ms * 100) / 100 },
    'returned the C heap’s free memory to the system',
  );
}

function toMiB(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
