// Busy polling for this thread's event loop (config `busyPollUs`; native/busy-poll.c says how and what it costs):
// each worker applies the setting of every generation it runs, so a reload turns it on, changes it or turns it off.

import { componentLogger } from './logger.ts';
import { loadNativeAddon } from './native-addon.ts';

interface BusyPollAddon {
  setBusyPoll(us: number): boolean;
  busyPollSpins(): number;
}

const log = componentLogger('busy-poll');
const loaded = loadNativeAddon<BusyPollAddon>();
let warned = false;

/** Polls for up to `us` µs after I/O before the loop sleeps (0: off). Without the addon it says so once and stays off. */
export function applyBusyPoll(us: number): void {
  if (loaded.addon?.setBusyPoll(us) === true) return;
  if (us === 0 || warned) return;
  warned = true;
  log.warn({ busyPollUs: us, why: loaded.addon === null ? loaded.why : 'the event loop is not available' }, 'busyPollUs is set but busy polling is off');
}

/** How many turns this thread's loop took without sleeping, for busy polling (tests read it). */
export function busyPollSpins(): number {
  return loaded.addon?.busyPollSpins() ?? 0;
}
