// Loading the native addon (native/*.c, built by `npm ci` into native/build/mantou.node). Each thread that needs
// it loads it for itself (Node-API gives every thread its own instance); without it, callers fall back to plain
// Node (see core/tcp/native-relay.ts and core/offload/offload-thread.ts).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ADDON_PATH = fileURLToPath(new URL('../native/build/mantou.node', import.meta.url));

/** The addon's exports as `T` (the caller's view of them), or null and why not. */
export function loadNativeAddon<T>(): { addon: T | null; why: string } {
  if (!existsSync(ADDON_PATH)) return { addon: null, why: `${ADDON_PATH} not built (npm ci builds it; needs a C compiler)` };
  try {
    return { addon: createRequire(import.meta.url)(ADDON_PATH) as T, why: '' };
  } catch (err) {
    return { addon: null, why: err instanceof Error ? err.message : String(err) };
  }
}
