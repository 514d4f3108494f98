// Pauses and resumes one socket's reads for two independent reasons: its owner's (backpressure) and fairness.
// libuv reads a socket up to 32 times per readiness while reads come back full, so a large body would otherwise
// be relayed two megabytes at a time while every other connection of the worker waits; after READS_PER_TURN full
// reads in a row the gate stops reading until the next turn of the event loop. Each reason's pause is kept apart,
// so the end of a yield never undoes the owner's pause, nor the owner's resume a yield.

import type net from 'node:net';

/**
 * Full reads a connection may do in one turn of the event loop before others get theirs. One: beside 1 MiB uploads
 * forwarded at 10/s, small GETs on the same worker had a p99 of 1.0 ms instead of 1.4-1.5 ms at two (bench:offload,
 * two alternating pairs of runs); 64 KiB POSTs (head and body in two reads, the second short) never yield, and
 * their throughput did not move.
 */
export const READS_PER_TURN = 1;

export class ReadGate {
  private readonly socket: net.Socket;
  /** The size of a full read (the socket's read buffer). */
  private readonly readBytes: number;
  private pausedByOwner = false;
  private yielded = false;
  private fullReads = 0;

  constructor(socket: net.Socket, readBytes: number) {
    this.socket = socket;
    this.readBytes = readBytes;
  }

  /** Paused by the owner (a yield does not count). */
  get paused(): boolean {
    return this.pausedByOwner;
  }

  pause(): void {
    this.pausedByOwner = true;
    this.socket.pause();
  }

  resume(): void {
    this.pausedByOwner = false;
    if (!this.yielded) this.socket.resume();
  }

  /** A read of `n` bytes: full ones in a row are one burst of libuv's read loop; `mayYield` lets it end it. */
  countRead(n: number, mayYield: boolean): void {
    if (n < this.readBytes) this.fullReads = 0;
    else if (++this.fullReads >= READS_PER_TURN && mayYield && !this.yielded) {
      this.fullReads = 0;
      this.yielded = true;
      if (!this.pausedByOwner) this.socket.pause();
      setImmediate(endYield, this);
    }
  }

  endYield(): void {
    this.yielded = false;
    if (!this.pausedByOwner && !this.socket.destroyed) this.socket.resume();
  }
}

function endYield(gate: ReadGate): void {
  gate.endYield();
}
