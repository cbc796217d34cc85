import { describe, expect, it } from 'vitest';
import { transient } from './backfill-runner.js';
import { chunkCap, CHUNK_TARGET_MS, drainCapped, DRAIN_TARGET_MS, MAX_CHUNK, MIN_CHUNK, nextChunkSize, QUIET_DRAIN_MS, runChunks } from './chunks.js';

describe('nextChunkSize and drainCapped', () => {
  it('moves towards the target time, at most halving or doubling, within its bounds', () => {
    expect(nextChunkSize(1000, CHUNK_TARGET_MS, 1000)).toBe(1000);
    expect(nextChunkSize(1000, CHUNK_TARGET_MS * 1.25, 1000)).toBe(800);
    expect(nextChunkSize(1000, CHUNK_TARGET_MS * 10, 1000)).toBe(500);
    expect(nextChunkSize(1000, 1, 1000)).toBe(2000);
    expect(nextChunkSize(MAX_CHUNK, 1, MAX_CHUNK)).toBe(MAX_CHUNK);
    expect(nextChunkSize(MIN_CHUNK, 10_000, MIN_CHUNK)).toBe(MIN_CHUNK);
  });

  it('caps a chunk to the rows whose reads cost the drain the time given, at least MIN_CHUNK', () => {
    expect(drainCapped(1000, DRAIN_TARGET_MS / 400, DRAIN_TARGET_MS)).toBe(400);
    expect(drainCapped(300, DRAIN_TARGET_MS / 400, DRAIN_TARGET_MS)).toBe(300);
    expect(drainCapped(1000, DRAIN_TARGET_MS, DRAIN_TARGET_MS)).toBe(MIN_CHUNK);
    expect(drainCapped(1000, undefined, DRAIN_TARGET_MS)).toBe(1000);
    expect(drainCapped(1000, DRAIN_TARGET_MS, DRAIN_TARGET_MS, 100)).toBe(100);
    expect(drainCapped(50, DRAIN_TARGET_MS, DRAIN_TARGET_MS, 100)).toBe(50);
  });

  it('counts the chunk with its reads while live changes flow, the drain alone while none do', () => {
    // A read costs the drain 0.02 ms and the chunk 0.02 ms.
    expect(chunkCap(5000, true, 0.02, 0.02, 100)).toBe(Math.floor(DRAIN_TARGET_MS / 0.04));
    expect(chunkCap(5000, true, 0.02, undefined, 100)).toBe(Math.floor(DRAIN_TARGET_MS / 0.02));
    expect(chunkCap(5000, false, 0.02, 0.02, 100)).toBe(Math.floor(QUIET_DRAIN_MS / 0.02));
    expect(chunkCap(5000, true, 1, 1, 100)).toBe(100);
    expect(chunkCap(5000, true, undefined, 0.02, 100)).toBe(5000);
  });

  it('keeps the size after a quick short chunk (the end, a sparse where), and shrinks after a slow one', () => {
    expect(nextChunkSize(1000, 5, 10)).toBe(1000);
    expect(nextChunkSize(1000, CHUNK_TARGET_MS * 2, 10)).toBe(500);
  });
});

describe('runChunks', () => {
  it('runs chunks until the backfill is no longer running, or another runner holds it', async () => {
    const states = ['running', 'running', 'completed'] as const;
    const sizes: number[] = [];
    const last = await runChunks(async (size) => ({ read: size, state: states[sizes.push(size) - 1] }), 100, () => true);
    expect(last).toEqual({ read: sizes[2], state: 'completed' });
    expect(sizes).toHaveLength(3);
    expect(await runChunks(async () => undefined, 100, () => true)).toBeUndefined();
  });

  it('sizes the next chunk by the time the chunk says it held its locks, not by the round trip', async () => {
    const sizes: number[] = [];
    await runChunks(async (size) => {
      sizes.push(size);
      // A slow round trip (a busy app) around a quick chunk.
      await new Promise((resolve) => setTimeout(resolve, CHUNK_TARGET_MS * 2));
      return { read: size, state: sizes.length < 3 ? 'running' : 'completed', heldMs: CHUNK_TARGET_MS / 2 };
    }, 100, () => true);
    expect(sizes).toEqual([100, 200, 400]);
  });
});

describe('transient', () => {
  it('tells what a retry may mend from what it will not', () => {
    expect(transient(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(true);
    expect(transient(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(transient(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true);
    expect(transient(Object.assign(new Error('out of memory'), { code: '53200' }))).toBe(true);
    expect(transient(Object.assign(new Error('division by zero'), { code: '22012' }))).toBe(false);
  });
});
