/**
 * Runs `pass` whenever woken, never two at once: a wake during a pass asks for one more after it,
 * so a burst of wake-ups (NOTIFYs, timers, finished tasks) costs at most one extra pass. Errors
 * go to `onError`; the next wake tries again.
 */
export function passRunner(pass: () => Promise<void>, onError: (err: unknown) => void) {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await pass().catch(onError);
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  }

  return {
    wake,
    /** No more passes; resolves when the one in progress has ended. */
    async stop(): Promise<void> {
      stopped = true;
      await running;
    },
  };
}

/** What a group commit's write answers: one result per item, or anything when items have none. */
type Results<R> = [R] extends [undefined] ? unknown : R[];

/**
 * Group commit: items added while a write is in progress are written together by the next one,
 * so under load one statement serves many items and an idle writer starts at once. `write`
 * answers one result per item, in order (nothing when items have no result); `add` settles with its
 * item's result once its batch's write has. A failed write rejects its own batch's items only.
 */
export function groupCommit<T, R = undefined>(write: (batch: T[]) => Promise<Results<R>>, onIdle?: () => void) {
  let waiting: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  let writing = false;

  async function writeAll(): Promise<void> {
    writing = true;
    while (waiting.length) {
      const batch = waiting;
      waiting = [];
      try {
        const results = (await write(batch.map((entry) => entry.item))) as R[] | undefined;
        batch.forEach((entry, index) => entry.resolve(results?.[index] as R));
      } catch (err) {
        const error = err ?? new Error('group commit failed');
        for (const entry of batch) entry.reject(error);
      }
    }
    writing = false;
    onIdle?.();
  }

  return {
    add(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        if (!writing) void writeAll();
      });
    },
  };
}

/**
 * groupCommit per key: items of one key are batched together, and the batches of different keys
 * are written side by side (say, one tenant's rows per statement, so a statement locks one
 * tenant's counter). A key's writer is forgotten once it has nothing left to write.
 */
export function groupCommitByKey<T, R = undefined>(write: (key: string, batch: T[]) => Promise<Results<R>>) {
  const writers = new Map<string, ReturnType<typeof groupCommit<T, R>>>();
  return {
    add(key: string, item: T): Promise<R> {
      let writer = writers.get(key);
      if (!writer) {
        writer = groupCommit<T, R>(
          (batch) => write(key, batch),
          () => writers.delete(key),
        );
        writers.set(key, writer);
      }
      return writer.add(item);
    },
  };
}
