// `ip-access` on a TCP listener: allow and deny lists of CIDR ranges for the client address — the peer, or the
// address a PROXY protocol header announced when `proxy-protocol` (accept) comes earlier in the chain.
// A refused client is reset before anything is read or any upstream is connected.

import { plainAddress } from '../core/tcp/proxy-protocol.ts';
import { closeSession, defineConnectionFilter, T } from './api.ts';
import { addressPolicy } from './ip-access.ts';

const Options = T.Object(
  {
    allow: T.Array(T.String({ minLength: 1 }), { default: [], description: 'CIDR ranges; when not empty, only these pass' }),
    deny: T.Array(T.String({ minLength: 1 }), { default: [], description: 'CIDR ranges refused (checked first)' }),
  },
  { additionalProperties: false },
);

const REFUSED = closeSession('ip_denied');

export default defineConnectionFilter({
  name: 'ip-access',
  config: Options,
  create(o) {
    const admitted = addressPolicy(o.allow, o.deny);
    return {
      onConnect(session) {
        if (!admitted(plainAddress(session.clientAddress))) return REFUSED;
      },
    };
  },
});
