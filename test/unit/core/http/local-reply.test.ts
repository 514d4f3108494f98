// Reason phrases for the status lines every engine writes: the usual ones, and any other status a filter answers.
import { describe, expect, it } from 'vitest';
import { reasonPhrase } from '../../../../core/http/local-reply.ts';

describe('reasonPhrase', () => {
  it('names the usual statuses, registered ones a filter may answer, and says Unknown for the rest', () => {
    expect(reasonPhrase(200)).toBe('OK');
    expect(reasonPhrase(413)).toBe('Content Too Large');
    expect(reasonPhrase(451)).toBe('Unavailable For Legal Reasons');
    expect(reasonPhrase(418)).toBe("I'm a Teapot");
    expect(reasonPhrase(599)).toBe('Unknown');
  });
});
