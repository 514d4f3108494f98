// Matching regular expressions over a body's bytes read as latin1 (one char per byte, so byte patterns mean what they
// say), without copying the body into a string: the addon's latin1View (native/latin1-view.c) makes an external
// string over the bytes. Used by body-scan, in the offload pool and on the worker's loop (offload: false).

import { loadNativeAddon } from '../core/native-addon.ts';

interface Latin1ViewAddon {
  latin1View?(bytes: Uint8Array): string;
}

// Without the addon (or with one built before it had the view) the body is copied into a new string: for 1 MiB,
// 3.2 ms and 259 page faults on this VM, where bench:offload's eight patterns take 1.4 ms.
const latin1View = loadNativeAddon<Latin1ViewAddon>().addon?.latin1View ?? latin1Copy;

function latin1Copy(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

// A successful match leaves its subject in V8's legacy RegExp statics (RegExp.input, RegExp.$_) until the next one.
// The view must not outlive the scan there: its bytes are the body's, which are reused once the verdict is in.
const EMPTY = /(?:)/;

/**
 * Index of the first regex that matches `bytes`, or -1. The bytes must not change while it runs (a string is
 * immutable, and V8 may rely on it); the string over them is unreachable when it returns.
 */
export function firstMatchLatin1(regexes: readonly RegExp[], bytes: Uint8Array): number {
  const text = latin1View(bytes);
  let i = 0;
  for (const r of regexes) {
    if (r.test(text)) {
      EMPTY.test('');
      return i;
    }
    i++;
  }
  return -1;
}
