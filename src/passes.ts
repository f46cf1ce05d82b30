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
