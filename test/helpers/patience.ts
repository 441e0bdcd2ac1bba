// Waiting without deadlines. No wait in the suite fails on time: a slow
// machine (ASan, a shared CI box) is not a failure, and a hang is ended by
// the test's own timeout. What has waited long says so on stderr, so that
// the log of a hang shows what it was waiting for.

/**
 * p, unchanged. If it has not settled after noteAfterMs, what it waits for
 * is written to stderr (once): it never fails on time, and a hang, which the
 * test's own timeout ends, shows in the log what it was.
 */
export function slowNote<T>(p: Promise<T>, noteAfterMs: number, what: string | (() => string)): Promise<T> {
  const timer = setTimeout(() => {
    process.stderr.write(`# still waiting after ${noteAfterMs} ms for ${typeof what === 'string' ? what : what()}\n`);
  }, noteAfterMs);
  return p.finally(() => clearTimeout(timer));
}

/** p, awaited without a deadline; after 10 s, a note on stderr says that it still waits for what (slowNote). */
export function watched<T>(p: Promise<T>, what: string): Promise<T> {
  return slowNote(p, 10_000, what);
}

/** Polls until cond() holds, without a deadline; after noteAfterMs a note on stderr says it still waits for what (slowNote). */
export async function until(cond: () => boolean, what: string, noteAfterMs = 5_000, stepMs = 10): Promise<void> {
  const polling = (async () => {
    while (!cond()) await new Promise((r) => setTimeout(r, stepMs));
  })();
  await slowNote(polling, noteAfterMs, what);
}

/**
 * Polls get() until ok(value), without a deadline, and returns that value;
 * after noteAfterMs a note on stderr says what it waits for and the last
 * value it got (slowNote).
 */
export async function untilValue<V>(get: () => V | Promise<V>, ok: (v: V) => boolean, what: string, noteAfterMs = 10_000, stepMs = 100): Promise<V> {
  let last: V | undefined;
  const polling = (async () => {
    for (;;) {
      last = await get();
      if (ok(last)) return last;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  })();
  return slowNote(polling, noteAfterMs, () => `${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}
