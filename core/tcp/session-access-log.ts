// The access-log line of one TCP session: fixed fields, written once when the session has ended (component
// "access", message "tcp session"), with whatever the session's filters put in its attributes.

import { componentLogger } from '../logger.ts';
import type { SessionContext } from './connection-filter.ts';

const accessLog = componentLogger('access');

export interface SessionTotals {
  bytesFromClient: number;
  bytesFromUpstream: number;
  durationMs: number;
  closeReason: string;
}

/** What the line names of the session (a TcpSession, or the native relay's record of one). */
export type LoggedSession = Pick<SessionContext, 'listenerName' | 'sessionId' | 'clientAddress' | 'clientPort' | 'clusterName' | 'upstreamEndpoint'>;

export function writeSessionAccessLog(s: LoggedSession, attributes: Map<string, unknown> | null, t: SessionTotals): void {
  accessLog.info(
    {
      listener: s.listenerName,
      session: s.sessionId,
      client: `${s.clientAddress}:${s.clientPort}`,
      cluster: s.clusterName,
      upstream: s.upstreamEndpoint,
      bytesFromClient: t.bytesFromClient,
      bytesFromUpstream: t.bytesFromUpstream,
      durationMs: Math.round(t.durationMs * 1000) / 1000,
      closeReason: t.closeReason,
      attributes: attributes === null ? undefined : Object.fromEntries(attributes),
    },
    'tcp session',
  );
}
