/**
 * Polls `check` until it holds (a check that throws counts as not yet); fails naming `what`
 * after `timeoutMs`, with `context()` (e.g. a process's output) appended.
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  { intervalMs = 50, context = () => '' }: { intervalMs?: number; context?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
