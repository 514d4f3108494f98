// `proxy-protocol`: the PROXY protocol (v1 text or v2 binary, HAProxy's spec) on either side.
//   send: v1 | v2          the upstream connection starts with a header carrying the client's address and the
//                          address it connected to (HAProxy's send-proxy / send-proxy-v2)
//   accept: v1 | v2 | any  this listener sits behind a load balancer that sends one: it is read and cut off, and
//                          the session's client (for later filters, the upstream header and the access log) is
//                          the announced one; a connection without a valid header is reset
//                          (`proxy_protocol_invalid`) — HAProxy's accept-proxy. Put this filter first.

import { encodeProxyHeader, NEED_MORE, parseProxyHeader } from '../core/tcp/proxy-protocol.ts';
import { closeSession, defineConnectionFilter, MORE_BYTES, T } from './api.ts';

const Options = T.Object(
  {
    send: T.Optional(T.Union([T.Literal('v1'), T.Literal('v2')])),
    accept: T.Optional(T.Union([T.Literal('v1'), T.Literal('v2'), T.Literal('any')])),
    acceptTimeoutMs: T.Integer({ minimum: 1, maximum: 600_000, default: 5_000, description: 'wait for the header (accept)' }),
  },
  { additionalProperties: false },
);

const INVALID = closeSession('proxy_protocol_invalid');

export default defineConnectionFilter({
  name: 'proxy-protocol',
  config: Options,
  create(o) {
    if (o.send === undefined && o.accept === undefined) throw new Error('set send, accept or both');
    const accept = o.accept;
    const send = o.send;
    return {
      prefaceTimeoutMs: o.acceptTimeoutMs,
      onPreface:
        accept === undefined
          ? undefined
          : (bytes, session) => {
              const header = parseProxyHeader(bytes, accept);
              if (header === NEED_MORE) return MORE_BYTES;
              if (typeof header === 'string') return INVALID;
              const a = header.addresses;
              if (a !== null) {
                session.clientAddress = a.sourceAddress;
                session.clientPort = a.sourcePort;
                session.localAddress = a.destinationAddress;
                session.localPort = a.destinationPort;
              }
              return bytes.subarray(header.consumed);
            },
      onUpstreamConnect:
        send === undefined
          ? undefined
          : (session) =>
              encodeProxyHeader(send, {
                sourceAddress: session.clientAddress,
                sourcePort: session.clientPort,
                destinationAddress: session.localAddress,
                destinationPort: session.localPort,
              }),
    };
  },
});
