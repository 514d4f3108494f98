// The PROXY protocol codec against the spec's own byte layouts (HAProxy's proxy-protocol.txt, sections 2.1, 2.2).

import { describe, expect, it } from 'vitest';
import { encodeProxyHeader, NEED_MORE, parseProxyHeader } from '../../../../core/tcp/proxy-protocol.ts';

const v4 = { sourceAddress: '192.0.2.10', sourcePort: 56324, destinationAddress: '198.51.100.1', destinationPort: 443 };
const v6 = { sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '2001:db8:0:0:0:0:0:2', destinationPort: 2 };

describe('encodeProxyHeader', () => {
  it('writes v1 lines for TCP4, TCP6 and UNKNOWN', () => {
    expect(encodeProxyHeader('v1', v4).toString()).toBe('PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n');
    expect(encodeProxyHeader('v1', v6).toString()).toBe('PROXY TCP6 2001:db8::1 2001:db8:0:0:0:0:0:2 1 2\r\n');
    expect(encodeProxyHeader('v1', { ...v4, sourceAddress: '' }).toString()).toBe('PROXY UNKNOWN\r\n');
  });

  it('reports IPv4-mapped IPv6 clients (a dual-stack listener) as IPv4, and a mixed pair as IPv6 with the IPv4 side mapped', () => {
    expect(encodeProxyHeader('v1', { ...v4, sourceAddress: '::ffff:192.0.2.10' }).toString()).toBe('PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n');
    expect(encodeProxyHeader('v1', { ...v6, destinationAddress: '198.51.100.1' }).toString()).toBe('PROXY TCP6 2001:db8::1 ::ffff:198.51.100.1 1 2\r\n');
  });

  it('writes v2: signature, version 2 PROXY command, family, length, addresses and ports in network order', () => {
    expect(encodeProxyHeader('v2', v4).toString('hex')).toBe('0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + 'c000020a' + 'c6336401' + 'dc04' + '01bb');
    expect(encodeProxyHeader('v2', v6).toString('hex')).toBe(
      '0d0a0d0a000d0a515549540a' + '21' + '21' + '0024' + '20010db8000000000000000000000001' + '20010db8000000000000000000000002' + '0001' + '0002',
    );
    // Unknown addresses: the LOCAL command with no address block.
    expect(encodeProxyHeader('v2', { ...v4, destinationAddress: 'x' }).toString('hex')).toBe('0d0a0d0a000d0a515549540a' + '20' + '00' + '0000');
  });
});

describe('parseProxyHeader', () => {
  it('round-trips what it encodes, and says how many bytes the header took', () => {
    for (const version of ['v1', 'v2'] as const) {
      for (const a of [v4, v6]) {
        const header = encodeProxyHeader(version, a);
        const parsed = parseProxyHeader(Buffer.concat([header, Buffer.from('rest')]), 'any');
        expect(parsed).toMatchObject({ version, consumed: header.length, addresses: { sourcePort: a.sourcePort, destinationPort: a.destinationPort } });
      }
    }
  });

  it('asks for more bytes while a header may still be coming, byte by byte', () => {
    for (const version of ['v1', 'v2'] as const) {
      const header = encodeProxyHeader(version, v4);
      for (let n = 1; n < header.length; n++) expect(parseProxyHeader(header.subarray(0, n), 'any')).toBe(NEED_MORE);
    }
  });

  it('treats UNKNOWN, LOCAL and unsupported families as "the connection speaks for itself"', () => {
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'), 'v1')).toMatchObject({ consumed: 35, addresses: null });
    expect(parseProxyHeader(Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex'), 'v2')).toMatchObject({ consumed: 16, addresses: null });
    // AF_UNIX stream (0x31) with a 216-byte address block: skipped whole.
    const unix = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a213100d8', 'hex'), Buffer.alloc(216)]);
    expect(parseProxyHeader(unix, 'any')).toMatchObject({ consumed: 232, addresses: null });
  });

  it('refuses what is not a valid header, or not the configured version', () => {
    expect(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'), 'any')).toBe('no PROXY protocol header');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'), 'any')).toMatch(/port out of range/);
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'), 'any')).toMatch(/port out of range/);
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'), 'any')).toMatch(/family/);
    expect(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), 'any')).toMatch(/longer than 107/);
    expect(parseProxyHeader(encodeProxyHeader('v2', v4), 'v1')).toMatch(/v2 header where v1/);
    expect(parseProxyHeader(encodeProxyHeader('v1', v4), 'v2')).toMatch(/v1 header where v2/);
    expect(parseProxyHeader(Buffer.from('0d0a0d0a000d0a515549540a11110000', 'hex'), 'any')).toMatch(/unknown version/);
  });
});
