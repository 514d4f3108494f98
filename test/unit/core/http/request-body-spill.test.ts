import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestBodySpill, SpillError } from '../../../../core/http/request-body-spill.ts';

/** Chunk `i` of a test body: its bytes say which chunk and which byte they are. */
function chunk(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let k = 0; k < size; k++) b[k] = (i * 31 + k) % 251;
  return b;
}

function drain(spill: RequestBodySpill): Buffer {
  const parts: Buffer[] = [];
  for (let c = spill.take(); c !== null; c = spill.take()) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const savedTmp = process.env.TMPDIR;
afterEach(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
});

describe('RequestBodySpill', () => {
  it('hands back what it holds in order, from memory first and then from its file', () => {
    const spill = new RequestBodySpill();
    const sent: Buffer[] = [];
    // 40 × 100 KB: the first MiB stays in memory, the rest goes to the file.
    for (let i = 0; i < 40; i++) {
      const c = chunk(i, 100_000);
      sent.push(c);
      spill.hold(Buffer.from(c));
    }
    expect(spill.fileBytes).toBeGreaterThan(2_000_000);
    expect(spill.isEmpty).toBe(false);
    expect(drain(spill).equals(Buffer.concat(sent))).toBe(true);
    expect(spill.isEmpty).toBe(true);
    expect(spill.fileBytes).toBe(0);
  });

  it('keeps order when bytes arrive while it is being drained', () => {
    const spill = new RequestBodySpill();
    const sent: Buffer[] = [];
    const got: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      sent.push(chunk(i, 90_000));
      spill.hold(Buffer.from(sent[i] as Buffer));
    }
    // Take some, add more (they go behind what the file holds), take the rest.
    for (let i = 0; i < 12; i++) got.push(Buffer.from(spill.take() as Buffer));
    for (let i = 30; i < 45; i++) {
      sent.push(chunk(i, 90_000));
      spill.hold(Buffer.from(sent[i] as Buffer));
    }
    got.push(drain(spill));
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
  });

  it('leaves no file behind, and drops everything on discard', () => {
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith('mantou-body-')).length;
    const spill = new RequestBodySpill();
    for (let i = 0; i < 20; i++) spill.hold(chunk(i, 200_000));
    // The file is unlinked as soon as it is created: it lives only as an open descriptor.
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('mantou-body-')).length).toBe(before);
    spill.discard();
    expect(spill.isEmpty).toBe(true);
    expect(spill.take()).toBeNull();
  });

  it('fails with a SpillError when the temporary directory cannot take the file', () => {
    process.env.TMPDIR = '/nonexistent/mantou-test';
    const spill = new RequestBodySpill();
    // The first MiB fits in memory; the next chunk needs the file.
    for (let i = 0; i < 10; i++) spill.hold(chunk(i, 100_000));
    expect(() => spill.hold(chunk(10, 100_000))).toThrow(SpillError);
    expect(() => spill.hold(chunk(11, 100_000))).toThrow(/cannot create a request body spill file in \/nonexistent/);
  });
});
