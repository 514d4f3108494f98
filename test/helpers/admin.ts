// Calls to the proxy's admin port.

import { request } from './http-client.ts';

export async function adminGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await request({ port, path });
  return { status: r.status, body: r.body.toString() };
}

export async function adminPost(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await request({ port, method: 'POST', path });
  return { status: r.status, body: r.body.toString() };
}

export interface ConfigDump {
  generation: number;
  lastReloadError: { message: string; at: string } | null;
  config: { listeners: { name: string; port: number }[] };
  counters: { reloads: number; reloadFailures: number; workerRestarts: number };
  workers: { index: number; alive: boolean; generation: number; restarts: number }[];
}

export async function configDump(port: number): Promise<ConfigDump> {
  return JSON.parse((await adminGet(port, '/config_dump')).body) as ConfigDump;
}
