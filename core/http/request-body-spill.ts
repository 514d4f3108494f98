// Request body bytes that arrive while the stream has paused the body. uWS keeps delivering them after pause()
// as long as a fast client keeps the receive queue full (README, "uws: known limits"), and written upstream they
// would pile up in the upstream socket's queue. Held here instead — the first MiB in memory, the rest in an
// unlinked temporary file, as nginx does with client_body_temp — and handed on in order when the stream resumes:
// a fast upload to a slow upstream then costs disk, not memory.
//
// The file is read and written synchronously: it is only used while an upstream is slower than its client, the
// page cache serves it, and order is trivially kept.

import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { allocPooledChunk, releaseChunk } from '../util/chunk-pool.ts';

/** Held in memory before the file is used. */
const MEMORY_BYTES = 1 << 20;
/** Read back from the file per chunk handed on. */
const READ_BYTES = 256 * 1024;

let fileSerial = 0;

/** The spill file could not be created or written (a read-only or full temporary directory). */
export class SpillError extends Error {
  override readonly name = 'SpillError';
}

export class RequestBodySpill {
  /** The client's last chunk arrived: once everything held is handed on, the body ends. */
  ended = false;
  private readonly memory: Buffer[] = [];
  private memoryHead = 0;
  private memoryBytes = 0;
  private fd = -1;
  private written = 0;
  private read = 0;

  get isEmpty(): boolean {
    return this.memoryHead === this.memory.length && this.read === this.written;
  }

  /** Bytes held in the file now (for tests and stats). */
  get fileBytes(): number {
    return this.written - this.read;
  }

  /** Keeps `chunk` (a pooled copy: released here once it is in the file). Throws SpillError. */
  hold(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Once the file is in use, everything goes there, behind what memory holds: order is kept.
    if (this.fd < 0 && this.memoryBytes + chunk.length <= MEMORY_BYTES) {
      this.memory.push(chunk);
      this.memoryBytes += chunk.length;
      return;
    }
    if (this.fd < 0) this.fd = openSpillFile();
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off, this.written + off);
    } catch (err) {
      throw new SpillError(`cannot write the request body spill file: ${(err as Error).message}`);
    }
    this.written += chunk.length;
    releaseChunk(chunk);
  }

  /** The next held bytes in order, or null when nothing is held. */
  take(): Buffer | null {
    if (this.memoryHead < this.memory.length) {
      const chunk = this.memory[this.memoryHead] as Buffer;
      this.memory[this.memoryHead++] = EMPTY;
      this.memoryBytes -= chunk.length;
      if (this.memoryHead === this.memory.length) {
        this.memory.length = 0;
        this.memoryHead = 0;
      }
      return chunk;
    }
    if (this.read === this.written) return null;
    const n = Math.min(READ_BYTES, this.written - this.read);
    // Pooled like every request body chunk: released once the upstream socket wrote it, so 256 MiB read back
    // reuse a few slabs instead of leaving a quarter-MiB buffer per read to the garbage collector.
    const chunk = allocPooledChunk(n);
    let got = 0;
    try {
      while (got < n) {
        const r = readSync(this.fd, chunk, got, n - got, this.read + got);
        if (r === 0) throw new Error('unexpected end of file');
        got += r;
      }
    } catch (err) {
      releaseChunk(chunk);
      throw new SpillError(`cannot read the request body spill file: ${(err as Error).message}`);
    }
    this.read += n;
    // Drained: the file's blocks go back, and memory is used again first.
    if (this.read === this.written) this.closeFile();
    return chunk;
  }

  /** Drops everything held (the request is gone). */
  discard(): void {
    for (let i = this.memoryHead; i < this.memory.length; i++) releaseChunk(this.memory[i] as Buffer);
    this.memory.length = 0;
    this.memoryHead = 0;
    this.memoryBytes = 0;
    this.closeFile();
  }

  private closeFile(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.written = 0;
    this.read = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** A new file in the temporary directory, unlinked at once: it disappears with its descriptor, even on a crash. */
function openSpillFile(): number {
  const path = join(tmpdir(), `mantou-body-${process.pid}-${threadId}-${++fileSerial}`);
  try {
    const fd = openSync(path, 'wx+', 0o600);
    unlinkSync(path);
    return fd;
  } catch (err) {
    throw new SpillError(`cannot create a request body spill file in ${tmpdir()}: ${(err as Error).message}`);
  }
}
