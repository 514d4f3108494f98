// The code every offload pool thread runs first (piscina's `filename`). At load, once per thread, it moves the
// thread to SCHED_IDLE (native/thread-priority.c): the thread then runs only on time no data-plane thread wants.
// Without the addon it stays at the nice 19 piscina gave it. Then it runs tasks: each is a module whose default
// export takes the task's input, imported on first use and kept.

import { loadNativeAddon } from '../native-addon.ts';

interface ThreadPriorityAddon {
  lowerThreadToIdle(): number;
}

const { addon } = loadNativeAddon<ThreadPriorityAddon>();
if (addon !== null) addon.lowerThreadToIdle();

/** What the pool sends: the task module's URL and its input. */
export interface OffloadTask {
  task: string;
  input: unknown;
}

type TaskFunction = (input: unknown) => unknown;
const loaded = new Map<string, TaskFunction>();

async function load(url: string): Promise<TaskFunction> {
  const fn = ((await import(url)) as { default?: unknown }).default;
  if (typeof fn !== 'function') throw new Error(`offload task ${url} does not default-export a function`);
  loaded.set(url, fn as TaskFunction);
  return fn as TaskFunction;
}

export default function runTask(t: OffloadTask): unknown {
  const fn = loaded.get(t.task);
  return fn === undefined ? load(t.task).then((f) => f(t.input)) : fn(t.input);
}
