// The Node options Mantou's process should start with, and whether it did. They are V8 flags that only take
// effect for an isolate created after they are set (and --single-threaded-gc only as V8 starts, with the flags it
// implies): the workers' isolates get what can be set late from the supervisor at boot (v8.setFlagsFromString),
// but the main thread's isolate exists before any of our code runs, so for it they must be on the command line:
// `npm start`, bin/mantou.js's shebang, the Dockerfile and the benchmarks pass them.
//
// --no-memory-reducer: V8's memory reducer runs full garbage collections when an isolate's allocation rate drops,
// which is what the main thread looks like once start-up is over. Traced (--trace-gc, one worker, the process on
// one core): two Mark-Compact (reduce) of the main isolate 8.7 and 9.3 s after start, 5-9 ms each after 13-15 ms of
// incremental marking, on the core the worker serves from; small GETs at 5,000 req/s measured across them had a
// p99 of 3.9-5.0 ms, against 0.36-0.53 ms in the rounds after. None came later (after a SIGHUP reload, or between
// load bursts, 40 s traced): it is a start-up cost. With the flag there were none at all; the first rounds after
// start still had some p99s of 1-3 ms, which are not the reducer's (JIT compilation on V8's threads, most likely:
// not traced).
//
// --single-threaded-gc: every isolate collects its own garbage on its own thread, instead of posting parallel and
// concurrent GC tasks to V8's helper threads. Those threads are the process's, at normal priority, on whatever
// core is free — which in a proxy of one worker per core is a worker's core: there the helpers cannot run beside
// the worker, only instead of it, and the offload pool's collections (its thread runs under SCHED_IDLE) ran at
// normal priority through them. Which of their tasks cost most was not traced; the effect was measured
// (bench/offload.ts's conditions, two proxies side by side on the worker's core, alternating rounds, eight
// each, 2026-11-30 21:20-21:40): small GETs' p99 beside ten scanned 1 MiB uploads a second 1.05× and 1.14× their p99
// alone with the flag, 1.48× and 1.23× without; beside the same uploads forwarded 1.05/1.02× with it, 1.30/1.06×
// without. Throughput per core did not move (wrk, the net engine with a filter, one core, medians of 5-7 rounds:
// small GETs 35.1k vs 34.8k req/s, 64 KiB responses 14.2k vs 14.4k; the built-in chain 34.8k vs 35.0k).

/**
 * V8 flags the supervisor sets at boot for the isolates created after it — the workers' and the offload pool's —
 * and not for the main thread's, which exists already (and needs neither: it allocates nothing per request).
 *
 * --min-semi-space-size=8 (MB): the young generation never shrinks below 8 MiB a semi-space. V8 shrinks it to
 * 1 MiB whenever allocation slows, and grows it back only when many objects survive — which a proxy's short-lived
 * request objects never do. So after any quiet spell a worker serving requests through JavaScript (filters the
 * native path cannot run) scavenged every 200–250 requests for as long as the load stayed moderate. Measured
 * (bench small GETs, the built-in chain on one core, the run's idle spells between its rounds, 2026-12-02 16:31–
 * 16:42, its admin /stats around each 1.5 s round): 8 and 31 scavenges a round at 1,000 and 5,000 req/s (9.4 ms
 * of pauses at 5,000), against 1 and 4 (2.2 ms) with 8 MiB and 1 and 2 (1.3 ms) with 16. It costs about 6 MiB of
 * resident memory per worker (an idle one-worker process, three starts each: 153–162 MiB without it, 166–168
 * with it; 16 MiB cost about 14). The runs: bench/results/2026-12-02T16-31-01-semi-space-default, …T16-38-21-
 * semi-space-8 and …T16-33-53-semi-space-16 (`--scenarios small-get --candidates direct,mantou-chain-1w,nginx,
 * haproxy,http-proxy,fastify --rounds 3`, the flag set through a temporary environment variable).
 */
export const WORKER_V8_FLAGS: readonly string[] = ['--no-memory-reducer', '--min-semi-space-size=8'];

/** The options, as they are written on a node command line. */
export const MANTOU_NODE_FLAGS: readonly string[] = ['--no-memory-reducer', '--single-threaded-gc'];

/** A V8 flag as written on a command line, in one spelling (V8 also takes `--nofoo` and underscores for dashes). */
function canonicalFlag(arg: string): string {
  return arg.replaceAll('_', '-').replace(/^--no(?!-)/, '--no-');
}

/** The flags of MANTOU_NODE_FLAGS missing from how this process was started. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map(canonicalFlag));
  return MANTOU_NODE_FLAGS.filter((flag) => !given.has(flag));
}
