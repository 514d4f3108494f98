// What one uWS response could not write in the cork it was produced in: a response head too big for the room
// left, and body bytes behind it or behind a chunk that did not fit. uws-cork.ts says why nothing may overflow a
// cork; this is written in fresh corks, each filled only up to its room, as soon as the producing cork ends.

import type { HttpResponse } from 'uWebSockets.js';
import { addToCork, CHUNK_OVERHEAD_BYTES, chunkRoom, fitsCork, HEAD_OVERHEAD_BYTES } from './uws-cork.ts';

/** A chunk is split to use the end of a cork only when that end is at least this big; else it waits whole. */
export const MIN_SPLIT_BYTES = 1024;

const EMPTY = Buffer.alloc(0);

export class CorkOverflow {
  /**
   * Entries are copies: the overflow began in a cork uWS opened and is written on a later turn of the loop.
   * Otherwise they are views of the caller's buffers, written before the call that produced them returns.
   */
  readonly copies: boolean;
  /** A write met backpressure: the stream hears of the end of it from onWritable. */
  blocked = false;
  /** The response was ended behind the waiting bytes. */
  endPending = false;
  private readonly chunks: Buffer[] = [];
  /** The first entry not written yet. */
  private index = 0;
  private headLines: string[] | null;
  private headLineIndex = 0;

  /** `headLines`: the status line and the fields of a head that did not fit, or null. */
  constructor(copies: boolean, headLines: string[] | null) {
    this.copies = copies;
    this.headLines = headLines;
  }

  keep(chunk: Buffer): void {
    this.chunks.push(this.copies ? Buffer.from(chunk) : chunk);
  }

  /**
   * Writes the waiting head's lines, as many as the current cork has room for: the status line and the fields
   * that fit through writeStatus, later fields one writeHeader each (the same bytes as one block). True when
   * all are out. A single field bigger than a whole cork is still written in one go: uWS cannot split it.
   */
  writeHead(res: HttpResponse): boolean {
    const lines = this.headLines;
    if (lines === null) return true;
    let i = this.headLineIndex;
    let mustWrite = i !== 0;
    if (i === 0) {
      let block = lines[0] as string;
      i = 1;
      while (i < lines.length && fitsCork(block.length + (lines[i] as string).length + 2 + HEAD_OVERHEAD_BYTES)) block += `\r\n${lines[i++]}`;
      addToCork(block.length + HEAD_OVERHEAD_BYTES);
      res.writeStatus(Buffer.from(block, 'latin1'));
    }
    while (i < lines.length) {
      const line = lines[i] as string;
      if (!mustWrite && !fitsCork(line.length + 2)) break;
      mustWrite = false;
      const colon = line.indexOf(': ');
      addToCork(line.length + 2);
      res.writeHeader(Buffer.from(line.slice(0, colon), 'latin1'), Buffer.from(line.slice(colon + 2), 'latin1'));
      i++;
    }
    this.headLineIndex = i;
    if (i < lines.length) return false;
    this.headLines = null;
    return true;
  }

  /** Writes as chunks what the current cork has room for (at least MIN_SPLIT_BYTES of a fresh one); true when all are out. */
  writeChunks(res: HttpResponse): boolean {
    const list = this.chunks;
    while (this.index < list.length) {
      const room = chunkRoom();
      const chunk = list[this.index] as Buffer;
      if (chunk.length <= room) {
        addToCork(chunk.length + CHUNK_OVERHEAD_BYTES);
        if (!res.write(chunk)) this.blocked = true;
        list[this.index++] = EMPTY;
        continue;
      }
      if (room >= MIN_SPLIT_BYTES) {
        addToCork(room + CHUNK_OVERHEAD_BYTES);
        if (!res.write(chunk.subarray(0, room))) this.blocked = true;
        list[this.index] = chunk.subarray(room);
      }
      return false;
    }
    return true;
  }

  /** The next waiting entry, for framings written without cork limits (tryEnd); null when none is left. */
  next(): Buffer | null {
    if (this.index >= this.chunks.length) return null;
    const chunk = this.chunks[this.index] as Buffer;
    this.chunks[this.index++] = EMPTY;
    return chunk;
  }
}
