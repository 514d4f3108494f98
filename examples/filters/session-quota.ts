// Example custom connection filter: a byte quota per TCP session. A client that sends more than `maxClientBytes`
// is cut off (reset, close reason `quota_exceeded`); how much it sent and whether it hit the quota go in the
// session's attributes, which the access-log line carries. Shows onConnect, onData, per-session state and onClose.
//
//   listeners:
//     - name: redis
//       protocol: tcp
//       port: 6380
//       cluster: redis
//       filters:
//         - name: session-quota
//           module: ./filters/session-quota.ts
//           config: { maxClientBytes: 1048576 }

import { closeSession, defineConnectionFilter, T } from 'mantou';

const OVER_QUOTA = closeSession('quota_exceeded');

export default defineConnectionFilter({
  name: 'session-quota',
  config: T.Object({ maxClientBytes: T.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  // Per-session state: the client bytes counted so far (one small object per session).
  state: () => ({ clientBytes: 0 }),
  create(options, env) {
    return {
      onData(chunk, fromClient, session, state) {
        if (!fromClient) return;
        state.clientBytes += chunk.length;
        if (state.clientBytes > options.maxClientBytes) {
          session.attributes.set('quotaExceeded', true);
          return OVER_QUOTA;
        }
      },
      onClose(outcome, session, state) {
        session.attributes.set('quotaUsedBytes', state.clientBytes);
        if (outcome.closeReason === 'quota_exceeded' && env.log.isLevelEnabled('info')) {
          env.log.info({ client: session.clientAddress, listener: session.listenerName }, 'session over its byte quota');
        }
      },
    };
  },
});
