// Process signals: SIGHUP reloads; the first SIGTERM or SIGINT drains gracefully, a second one exits at once.

export interface SignalHandlers {
  reload(source: string): void;
  drain(source: string): void;
  exitNow(source: string): void;
}

export function installSignalHandlers(h: SignalHandlers): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) h.exitNow(signal);
    else {
      stopping = true;
      h.drain(signal);
    }
  };
  process.on('SIGHUP', () => h.reload('SIGHUP'));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
