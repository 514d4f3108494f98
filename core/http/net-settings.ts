// What the `net` engine needs of a listener's config: parser limits, timeouts and allowed upgrades. Part of the
// listener's per-generation context, so a reload changes them for new requests without reopening the socket.

import type { RequestParserLimits } from './request-parser.ts';

export interface NetEngineSettings {
  readonly limits: RequestParserLimits;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** 0: no limit on the time to receive a whole request. */
  readonly requestTimeoutMs: number;
  readonly tunnelIdleTimeoutMs: number;
  /** Upgrade protocols tunnelled, lower-case. */
  readonly upgrades: ReadonlySet<string>;
}
