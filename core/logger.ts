// Operational logs: one pino root per thread, a child per component made once at module load.
// Hot paths check `isLevelEnabled` (or log only on failures) so no string is formatted for a level that is off.

import pino from 'pino';

export const rootLogger = pino({
  level: process.env.MANTOU_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function componentLogger(component: string): pino.Logger {
  return rootLogger.child({ component });
}
