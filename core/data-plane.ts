// The data plane of one thread: opens the listeners of a generation and serves them until closed.
// Imported only after UWS_HTTP_MAX_HEADERS_SIZE is set (uWS reads it once, when it loads).

import { closeGeneration, type Generation } from './generation.ts';
import { UwsListener } from './http/uws-listener.ts';
import { componentLogger } from './logger.ts';

const log = componentLogger('data-plane');

export class DataPlane {
  private readonly listeners: UwsListener[] = [];
  private generation: Generation | null = null;

  /** Opens every listener; on failure, closes what was opened and rethrows (one clear StartupError). */
  async start(generation: Generation): Promise<void> {
    this.generation = generation;
    try {
      for (const l of generation.listeners) {
        const listener = new UwsListener({ name: l.name, address: l.address, port: l.port }, l.context);
        this.listeners.push(listener);
        const port = await listener.listen(l.address, l.port);
        log.info({ listener: l.name, address: l.address, port, generation: generation.id }, 'listener started');
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Ports the listeners are bound to, by listener name. */
  ports(): Record<string, number> {
    return Object.fromEntries(this.listeners.map((l) => [l.name, l.port]));
  }

  close(): void {
    for (const l of this.listeners.splice(0)) l.close();
    if (this.generation !== null) closeGeneration(this.generation);
    this.generation = null;
  }
}
