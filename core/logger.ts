// Operational logs: one pino root per thread, a child per component made once at module load.
// Hot paths check `isLevelEnabled` (or log only on failures) so no string is formatted for a level that is off.

import { isMainThread, threadId } from 'node:worker_threads';
import pino from 'pino';

export const rootLogger = pino({
  level: process.env.MANTOU_LOG_LEVEL ?? 'info',
  // Worker threads share the pid: the thread id tells their lines apart.
  base: isMainThread ? { pid: process.pid } : { pid: process.pid, thread: threadId },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function componentLogger(component: string): pino.Logger {
  return rootLogger.child({ component });
}
