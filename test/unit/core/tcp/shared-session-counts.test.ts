// Session counts shared by workers: each session's ordinals, the per-second window, a dead worker's sessions
// taken off, and listener slots that stay put across reloads.

import { describe, expect, it } from 'vitest';
import {
  createSessionCountsBuffer,
  forgetWorkerSessions,
  type SessionOrdinals,
  SessionSlotTable,
  SharedSessionCounts,
} from '../../../../core/tcp/shared-session-counts.ts';

describe('SharedSessionCounts', () => {
  it('gives each session its ordinal among the listener’s active sessions and this second’s, across workers', () => {
    const buffer = createSessionCountsBuffer();
    const w0 = new SharedSessionCounts(buffer, 3, 0);
    const w1 = new SharedSessionCounts(buffer, 3, 1);
    const other = new SharedSessionCounts(buffer, 4, 0);
    const out: SessionOrdinals = { active: 0, thisSecond: 0 };
    w0.opened(100, out);
    expect(out).toEqual({ active: 1, thisSecond: 1 });
    w1.opened(100, out);
    expect(out).toEqual({ active: 2, thisSecond: 2 });
    other.opened(100, out);
    expect(out).toEqual({ active: 1, thisSecond: 1 });
    w0.closed();
    w1.opened(101, out);
    expect(out).toEqual({ active: 2, thisSecond: 1 });
    expect(w0.active()).toBe(2);
  });

  it('takes a dead worker’s sessions off every listener it served', () => {
    const buffer = createSessionCountsBuffer();
    const out: SessionOrdinals = { active: 0, thisSecond: 0 };
    const a0 = new SharedSessionCounts(buffer, 0, 0);
    const a1 = new SharedSessionCounts(buffer, 0, 1);
    for (let i = 0; i < 3; i++) a1.opened(1, out);
    a0.opened(1, out);
    expect(a0.active()).toBe(4);
    forgetWorkerSessions(buffer, 1);
    expect(a0.active()).toBe(1);
  });
});

describe('SessionSlotTable', () => {
  it('keeps a listener’s slot across reloads and reuses slots of removed listeners once idle', () => {
    const buffer = createSessionCountsBuffer();
    const table = new SessionSlotTable(buffer);
    expect(table.assign(['db', 'cache'])).toEqual({ db: 0, cache: 1 });
    const out: SessionOrdinals = { active: 0, thisSecond: 0 };
    new SharedSessionCounts(buffer, 1, 0).opened(1, out);
    // cache removed while a session is still open: its slot is not reused yet.
    expect(table.assign(['db', 'mq'])).toEqual({ db: 0, mq: 2 });
    new SharedSessionCounts(buffer, 1, 0).closed();
    expect(table.assign(['db', 'mq', 'search'])).toEqual({ db: 0, mq: 2, search: 1 });
    expect(new SharedSessionCounts(buffer, 1, 0).active()).toBe(0);
  });
});
