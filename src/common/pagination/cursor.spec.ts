import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.js';

describe('cursor', () => {
  it('round-trips a sort key', () => {
    expect(decodeCursor(encodeCursor(['2026-11-30T10:00:00.000Z', 'a-b', 3]))).toEqual(['2026-11-30T10:00:00.000Z', 'a-b', 3]);
  });

  it.each(['', 'not base64!', 'x'.repeat(513), Buffer.from('{"a":1}').toString('base64url'), Buffer.from('nope').toString('base64url')])(
    'refuses %j',
    (cursor) => {
      expect(decodeCursor(cursor)).toBeUndefined();
    },
  );
});
