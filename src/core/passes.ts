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

/**
 * Group commit: items added while a write is in progress are written together by the next one,
 * so under load one statement serves many items and an idle writer starts at once. `add`
 * settles when its item's write has.
 */
export function groupCommit<T>(write: (batch: T[]) => Promise<void>) {
  let waiting: { item: T; settle: (error?: unknown) => void }[] = [];
  let writing = false;

  async function writeAll(): Promise<void> {
    writing = true;
    while (waiting.length) {
      const batch = waiting;
      waiting = [];
      const error = await write(batch.map((entry) => entry.item)).then(
        () => undefined,
        (err: unknown) => err ?? new Error('group commit failed'),
      );
      batch.forEach((entry) => entry.settle(error));
    }
    writing = false;
  }

  return {
    add(item: T): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ item, settle: (error) => (error === undefined ? resolve() : reject(error)) });
        if (!writing) void writeAll();
      });
    },
  };
}
