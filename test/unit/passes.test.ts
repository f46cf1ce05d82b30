import { describe, expect, test } from 'vitest';
import { groupCommit, groupCommitByKey, passRunner } from '../../src/core/passes.js';

// Passes and group commits are driven by hand-settled promises: each step is awaited, never slept.

/** A promise settled from outside. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-settled continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('passRunner', () => {
  test('wakes during a pass ask for exactly one more pass, never two at once', async () => {
    const ends = [deferred(), deferred(), deferred()];
    let started = 0;
    let active = 0;
    let mostActive = 0;
    const runner = passRunner(
      async () => {
        active++;
        mostActive = Math.max(mostActive, active);
        await ends[started++]!.promise;
        active--;
      },
      (err) => {
        throw err;
      },
    );
    runner.wake();
    runner.wake();
    runner.wake();
    runner.wake();
    await settle();
    expect(started).toBe(1);
    ends[0]!.resolve();
    await settle();
    expect(started).toBe(2); // the four wakes cost one extra pass
    ends[1]!.resolve();
    await settle();
    expect(started).toBe(2); // nothing woke it during the second pass
    runner.wake();
    await settle();
    expect(started).toBe(3); // idle, a wake starts a pass at once
    ends[2]!.resolve();
    await runner.stop();
    expect(mostActive).toBe(1);
  });

  test('a failed pass goes to onError and the next wake tries again; stop waits for the pass and ends them', async () => {
    const errors: unknown[] = [];
    const end = deferred();
    let passes = 0;
    const runner = passRunner(
      async () => {
        passes++;
        if (passes === 1) throw new Error('database away');
        await end.promise;
      },
      (err) => errors.push(err),
    );
    runner.wake();
    await settle();
    expect(errors).toEqual([new Error('database away')]);
    runner.wake();
    await settle();
    expect(passes).toBe(2);
    runner.wake(); // asks for one more, which stop cancels
    let stopped = false;
    const stopping = runner.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false); // the pass in progress has not ended
    end.resolve();
    await stopping;
    runner.wake();
    await settle();
    expect(passes).toBe(2);
  });
});

describe('groupCommit', () => {
  test('an idle writer writes at once; items added meanwhile are written together by the next write', async () => {
    const batches: number[][] = [];
    const writes = [deferred(), deferred()];
    const commit = groupCommit<number>(async (batch) => {
      batches.push(batch);
      await writes[batches.length - 1]!.promise;
    });
    const first = commit.add(1);
    const rest = [commit.add(2), commit.add(3), commit.add(4)];
    await settle();
    expect(batches).toEqual([[1]]);
    writes[0]!.resolve();
    await first;
    await settle();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    writes[1]!.resolve();
    await Promise.all(rest);
  });

  test("a failed write rejects its own batch's items only", async () => {
    const writes = [deferred(), deferred()];
    let count = 0;
    const commit = groupCommit<string>(() => writes[count++]!.promise);
    const failing = commit.add('a');
    const later = commit.add('b');
    writes[0]!.reject(new Error('deadlock'));
    await expect(failing).rejects.toThrow('deadlock');
    writes[1]!.resolve();
    await expect(later).resolves.toBeUndefined();
  });

  test("each item gets its own result, at its index in the write's answer", async () => {
    const commit = groupCommit<number, string>(async (batch) => batch.map((n) => `#${n}`));
    expect(await Promise.all([commit.add(1), commit.add(2), commit.add(3)])).toEqual(['#1', '#2', '#3']);
  });
});

describe('groupCommitByKey', () => {
  test("a key's items batch together while another key's batch is written side by side", async () => {
    const batches: [string, number[]][] = [];
    const writes = new Map<string, ReturnType<typeof deferred>>();
    const commit = groupCommitByKey<number, number>(async (key, batch) => {
      batches.push([key, batch]);
      const write = deferred();
      writes.set(key, write);
      await write.promise;
      return batch.map((n) => n * 10);
    });
    const a1 = commit.add('a', 1);
    const b1 = commit.add('b', 2);
    const rest = [commit.add('a', 3), commit.add('a', 4), commit.add('b', 5)];
    await settle();
    expect(batches).toEqual([
      ['a', [1]],
      ['b', [2]],
    ]);
    writes.get('a')!.resolve();
    expect(await a1).toBe(10);
    await settle();
    expect(batches.at(-1)).toEqual(['a', [3, 4]]);
    writes.get('b')!.resolve();
    expect(await b1).toBe(20);
    await settle();
    expect(batches.at(-1)).toEqual(['b', [5]]);
    writes.get('a')!.resolve();
    writes.get('b')!.resolve();
    expect(await Promise.all(rest)).toEqual([30, 40, 50]);
  });

  test('a key whose writer went idle starts a new one at once', async () => {
    const batches: number[][] = [];
    const commit = groupCommitByKey<number>(async (_key, batch) => {
      batches.push(batch);
    });
    await commit.add('a', 1);
    await settle();
    await commit.add('a', 2);
    expect(batches).toEqual([[1], [2]]);
  });
});
