import { log } from "@/server/log";

export type Passes = {
  /** One pass now, or the one under way; nothing once stopped. */
  pass: () => Promise<void>;
  /** Starts no other pass and waits for the one in hand. */
  stop: () => Promise<void>;
};

/**
 * A worker's loop of passes (alerts, post-merge verification, GitHub, remote fetches): `run`
 * every `intervalMs`, never two at once, so a slow pass delays the next rather than overlapping
 * it. A pass that throws is logged as `failed` and the next one tries again. `run` is told
 * whether a stop was asked, to end early where it can. The timer alone does not keep the
 * process alive: a process stops when what it runs for is done.
 */
export function startPasses(
  intervalMs: number,
  failed: string,
  run: (stopping: () => boolean) => Promise<unknown>,
): Passes {
  let stopping = false;
  let current: Promise<void> | null = null;
  const pass = (): Promise<void> => {
    if (current || stopping) return current ?? Promise.resolve();
    current = Promise.resolve()
      .then(() => run(() => stopping))
      .then(
        () => undefined,
        (err: unknown) =>
          log.error({ error: err instanceof Error ? err.message : String(err) }, failed),
      )
      .finally(() => {
        current = null;
      });
    return current;
  };
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return {
    pass,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await current;
    },
  };
}
