import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../../../core/admin/admin-server.ts';
import { redact } from '../../../../core/admin/redact.ts';

describe('redact', () => {
  it('hides credential-like values at any depth and keeps the rest', () => {
    const out = redact({
      listeners: [{ routes: [{ requestHeaders: { set: { authorization: 'Bearer x', 'x-api-key': 'k', 'x-env': 'prod' } } }] }],
      clusters: [{ name: 'a', password: 'p' }],
    });
    expect(out).toEqual({
      listeners: [{ routes: [{ requestHeaders: { set: { authorization: '[redacted]', 'x-api-key': '[redacted]', 'x-env': 'prod' } } }] }],
      clusters: [{ name: 'a', password: '[redacted]' }],
    });
  });
});

describe('isLoopback', () => {
  it('accepts IPv4, IPv6 and mapped loopback peers only', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.3.2.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isLoopback('::ffff:192.0.2.1')).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });
});
