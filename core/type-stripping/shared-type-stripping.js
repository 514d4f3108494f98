// @ts-check
// One TypeScript stripper per process instead of one per thread. Node strips a `.ts` module's types with a
// WebAssembly build of swc that every isolate instantiates for itself on its first `.ts` import: about 10 MiB of
// resident memory per worker thread and per offload pool thread, held for the thread's life. Here the main thread
// (which has one loaded anyway) strips for every thread of its process: a thread's synchronous load hook posts the
// module's path on a BroadcastChannel with a SharedArrayBuffer, the main thread writes the stripped source into it,
// and the thread, blocked in Atomics.wait meanwhile, hands it to Node as plain JavaScript.
//
// This file is JavaScript because it runs before any TypeScript can be loaded without the stripper. Whatever the
// main thread does not answer — a module in a scope that is not ESM, a syntax error, a main thread too busy to
// answer within LOCAL_AFTER_MS — the thread loads as before, with Node's own stripper, so errors read as they
// always did. Only the main thread's process serves its threads (the variable carries its pid), so a thread of a
// process that does not serve (a test runner, a child) never waits.

import { readFileSync, statSync } from 'node:fs';
import { findPackageJSON, registerHooks, stripTypeScriptTypes } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileFunction } from 'node:vm';
import { BroadcastChannel, isMainThread } from 'node:worker_threads';

const CHANNEL = 'mantou:stripped-typescript';
/** Holds the pid of the process whose main thread serves; threads inherit it with their copy of the environment. */
const SERVING_PID_VARIABLE = 'MANTOU_TYPE_STRIPPING_PID';
/** How long a thread waits for the main thread before stripping the module itself. */
const LOCAL_AFTER_MS = 10_000;

// The reply buffer: two Int32 (state, byte length), then the UTF-8 source of an ES module.
const HEADER_BYTES = 8;
const PENDING = 0;
const STRIPPED = 1;
/** Load it with Node's own stripper. */
const LOCAL = 2;

/** What this thread's hook did, for /stats: modules the main thread stripped for it, and those it stripped itself. */
export const typeStrippingCounts = { byMainThread: 0, local: 0 };

/**
 * A file URL's path when the module is TypeScript this protocol handles (`.ts`, `.mts`, outside node_modules, which
 * Node does not strip), else null.
 * @param {string} url
 * @returns {string | null}
 */
function typeScriptPathOf(url) {
  if (!url.startsWith('file:')) return null;
  const u = new URL(url);
  if (!/\.m?ts$/.test(u.pathname) || u.pathname.includes('/node_modules/')) return null;
  return fileURLToPath(u);
}

// ---- the main thread's side ----

/** @type {Map<string, { text: string; bytes: Buffer; module: boolean }>} */
const strippedFiles = new Map();
/** @type {Map<string, string | undefined>} package.json path → its `type` field */
const packageTypes = new Map();

/** @param {string} path */
function packageTypeOf(path) {
  const pkg = findPackageJSON(pathToFileURL(path));
  if (pkg === undefined) return undefined;
  if (!packageTypes.has(pkg)) packageTypes.set(pkg, JSON.parse(readFileSync(pkg, 'utf8')).type);
  return packageTypes.get(pkg);
}

/** The errors a CommonJS parse gives ES module syntax: where Node, finding them, loads a file of no type as ESM. */
const ESM_SYNTAX_ERRORS = ['Cannot use import statement outside a module', "Unexpected token 'export'", "Cannot use 'import.meta' outside a module"];

/**
 * Whether Node would load `path` as an ES module: `.mts`; `.ts` in a package whose `type` is `module`; or `.ts` of
 * no type (no package.json, as a filter in /etc/mantou has, or one without `type`) whose stripped source does not
 * parse as CommonJS for one of the reasons Node's syntax detection takes as ESM. Anything else is the thread's.
 * @param {string} path
 * @param {string} stripped
 */
function isModule(path, stripped) {
  if (path.endsWith('.mts')) return true;
  const type = packageTypeOf(path);
  if (type !== undefined) return type === 'module';
  try {
    compileFunction(stripped, ['exports', 'require', 'module', '__filename', '__dirname']);
    return false;
  } catch (err) {
    return err instanceof SyntaxError && ESM_SYNTAX_ERRORS.some((m) => err.message.includes(m));
  }
}

/**
 * `path` stripped, and whether it is an ES module: once per content of the file (every worker imports the same
 * modules; a filter edited before a reload is read afresh).
 * @param {string} path
 */
function strippedFile(path) {
  const text = readFileSync(path, 'utf8');
  const known = strippedFiles.get(path);
  if (known !== undefined && known.text === text) return known;
  const source = stripTypeScriptTypes(text, { mode: 'strip' });
  const stripped = { text, bytes: Buffer.from(source), module: isModule(path, source) };
  strippedFiles.set(path, stripped);
  return stripped;
}

/** @param {{ path: string; reply: SharedArrayBuffer }} request a path typeScriptPathOf gave the thread */
function answer(request) {
  const header = new Int32Array(request.reply, 0, 2);
  let state = LOCAL;
  try {
    const stripped = strippedFile(request.path);
    // Stripping turns types into spaces, so the thread's room (the file's size and a margin) holds the source.
    if (stripped.module && HEADER_BYTES + stripped.bytes.byteLength <= request.reply.byteLength) {
      new Uint8Array(request.reply, HEADER_BYTES, stripped.bytes.byteLength).set(stripped.bytes);
      header[1] = stripped.bytes.byteLength;
      state = STRIPPED;
    }
  } catch {
    // A file that cannot be read or stripped: the thread loads it itself and reports Node's own error.
    state = LOCAL;
  }
  Atomics.store(header, 0, state);
  Atomics.notify(header, 0);
}

/**
 * Node warns once, the first time stripTypeScriptTypes is called, that it is experimental: it is the stripper Node
 * itself runs on every `.ts` import, which it does without a warning, so the warning would only alarm an operator.
 * The first call is made here, with that one warning held back.
 */
function stripQuietly() {
  const emitWarning = process.emitWarning;
  process.emitWarning = /** @type {typeof process.emitWarning} */ (
    (warning, ...rest) => {
      if (String(warning).startsWith('stripTypeScriptTypes')) return;
      emitWarning.call(process, warning, .../** @type {[any]} */ (rest));
    }
  );
  try {
    stripTypeScriptTypes('', { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Makes this process's main thread strip TypeScript for its threads: call before the first thread starts. */
export function serveTypeStripping() {
  if (!isMainThread) throw new Error('serveTypeStripping() belongs on the main thread');
  if (process.env[SERVING_PID_VARIABLE] === String(process.pid)) return;
  stripQuietly();
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (event) => answer(/** @type {MessageEvent} */ (event).data);
  // The process's life is not the channel's business.
  channel.unref();
  process.env[SERVING_PID_VARIABLE] = String(process.pid);
}

// ---- a thread's side ----

/**
 * The ES module source the main thread stripped from `path`, or null to load it here.
 * @param {string} path
 * @returns {string | null}
 */
function strippedByMainThread(path) {
  const reply = new SharedArrayBuffer(HEADER_BYTES + statSync(path).size + 1024);
  const header = new Int32Array(reply, 0, 2);
  // Opened for one message: a channel left open would queue every other thread's requests.
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage({ path, reply });
  channel.close();
  if (Atomics.wait(header, 0, PENDING, LOCAL_AFTER_MS) === 'timed-out') return null;
  if (Atomics.load(header, 0) !== STRIPPED) return null;
  return Buffer.from(reply, HEADER_BYTES, header[1]).toString('utf8');
}

/**
 * In a worker or offload thread: load TypeScript modules as the main thread stripped them, when it serves. Call it
 * before the thread's first `.ts` import (from a JavaScript entry module: static imports load before any code runs).
 */
export function useMainThreadTypeStripping() {
  if (isMainThread || process.env[SERVING_PID_VARIABLE] !== String(process.pid)) return;
  registerHooks({
    load(url, context, nextLoad) {
      const path = typeScriptPathOf(url);
      if (path !== null) {
        let source = null;
        try {
          source = strippedByMainThread(path);
        } catch {
          // A file gone or unreadable: Node's own load reports it.
        }
        if (source !== null) {
          typeStrippingCounts.byMainThread++;
          return { format: 'module', source, shortCircuit: true };
        }
        typeStrippingCounts.local++;
      }
      return nextLoad(url, context);
    },
  });
}
