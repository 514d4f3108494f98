// A StreamContext for calling a filter's hooks directly in unit tests (its phase logic, not the proxy around it).

import type { StreamContext } from '../../core/http/stream-context.ts';

export function contextStub(remoteAddress = '10.0.0.1', routeName = 'r'): StreamContext {
  return {
    requestId: 'id-1',
    remoteAddress,
    listenerName: 'edge',
    routeName,
    clusterName: 'c',
    startMs: 0,
    attributes: new Map(),
    bufferRequestBody() {},
    offload: () => Promise.reject(new Error('no offload pool in unit tests')),
  };
}
