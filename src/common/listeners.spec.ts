import { describe, expect, it } from 'vitest';
import { Listeners } from './listeners.js';

describe('Listeners', () => {
  it('tells every listener, reports one that throws and still tells the rest, and forgets a removed one', () => {
    const failed: unknown[] = [];
    const listeners = new Listeners<[n: number]>((error) => failed.push(error));
    const told: string[] = [];
    listeners.add(() => {
      throw new Error('broken');
    });
    const remove = listeners.add((n) => told.push(`a${n}`));
    listeners.add((n) => told.push(`b${n}`));
    listeners.tell(1);
    remove();
    listeners.tell(2);
    expect(told).toEqual(['a1', 'b1', 'b2']);
    expect(failed.map((error) => (error as Error).message)).toEqual(['broken', 'broken']);
  });
});
