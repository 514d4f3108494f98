import { describe, expect, it } from 'vitest';
import { HeaderList, InvalidHeaderError } from '../../../../core/http/header-list.ts';
import { DOWNSTREAM_FRAMING, stripHopByHop } from '../../../../core/http/header-rules.ts';

describe('stripHopByHop', () => {
  it('removes the fixed hop-by-hop set and every field Connection lists', () => {
    const h = new HeaderList([
      'connection',
      'keep-alive, X-Secret',
      'keep-alive',
      'timeout=5',
      'x-secret',
      's',
      'te',
      'trailers',
      'upgrade',
      'h2c',
      'proxy-connection',
      'x',
      'expect',
      '100-continue',
      'http2-settings',
      'a',
      'x-kept',
      'k',
    ]);
    stripHopByHop(h);
    expect(h.entries).toEqual(['x-kept', 'k']);
  });
  it('also drops the framing fields the downstream engine writes itself', () => {
    const h = new HeaderList(['content-length', '3', 'date', 'x', 'etag', 'e']);
    stripHopByHop(h, DOWNSTREAM_FRAMING);
    expect(h.entries).toEqual(['etag', 'e']);
  });
});

describe('HeaderList', () => {
  it('refuses values with CR, LF or NUL and invalid names', () => {
    const h = new HeaderList();
    expect(() => h.set('x-a', 'a\r\nInjected: 1')).toThrow(InvalidHeaderError);
    expect(() => h.add('x-a', 'a\0')).toThrow(InvalidHeaderError);
    expect(() => h.add('bad name', 'v')).toThrow(InvalidHeaderError);
  });
  it('set replaces all values, append joins a list, remove counts', () => {
    const h = new HeaderList(['x-a', '1', 'x-a', '2']);
    h.append('x-a', '3');
    expect(h.getAll('x-a')).toEqual(['1, 3', '2']);
    h.set('X-A', 'only');
    expect(h.entries).toEqual(['x-a', 'only']);
    expect(h.remove('x-a')).toBe(1);
  });
});
