import { describe, expect, it } from 'vitest';
import { runEnded, runStarted, whenIdle } from './idle.js';

const turns = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('whenIdle', () => {
  // First: the other tests' tasks set timers of their own for that second.
  it('does not wait for ever: a process that always has a run in flight gets the task within about a second', async () => {
    const seen: string[] = [];
    runStarted();
    try {
      whenIdle(() => seen.push('task'));
      await turns(1_300);
      expect(seen).toEqual(['task']);
    } finally {
      runEnded();
    }
  });

  it('runs a task in a turn of its own when no run is in flight', async () => {
    const seen: string[] = [];
    whenIdle(() => seen.push('task'));
    seen.push('same turn');
    await turns(20);
    expect(seen).toEqual(['same turn', 'task']);
  });

  it('waits for the runs in flight to end, across turns, then runs each task once', async () => {
    const seen: string[] = [];
    runStarted();
    runStarted();
    try {
      whenIdle(() => seen.push('a'));
      whenIdle(() => seen.push('b'));
      await turns(30);
      runEnded();
      await turns(30);
      expect(seen).toEqual([]);
    } finally {
      runEnded();
    }
    await turns(30);
    expect(seen).toEqual(['a', 'b']);
    await turns(30);
    expect(seen).toEqual(['a', 'b']);
  });

  it('keeps going when a task throws: the next task still runs, and nothing reaches the process', async () => {
    const seen: string[] = [];
    whenIdle(() => {
      throw new Error('set-up failed');
    });
    whenIdle(() => seen.push('next'));
    await turns(20);
    expect(seen).toEqual(['next']);
  });
});
