import type { LoadedConfig } from "@/server/config/load";
import { log } from "@/server/log";

/**
 * The dispatcher as one loop per repository (the seed's repo loop workers): each tick, every
 * configured repository whose previous pass has ended gets a pass of its own — planning its
 * received requests, dispatching its tasks, developing the built-in developer's — so a
 * repository whose pass is slow (a huge tree, a hung git, a slow Engineer) or keeps failing
 * delays only its own next pass. A repository added to the configuration is picked up at the
 * next tick; a removed one gets no more passes.
 */
export type RepoDispatchers = {
  /** Repositories whose pass is running now. */
  busy(): string[];
  /** No new passes (the passes running end on their own: the worker's stop ends their runs). */
  stop(): void;
};

export function startRepoDispatchers(args: {
  config: () => LoadedConfig;
  intervalMs: number;
  /** One repository's pass (advance with its name). */
  pass: (config: LoadedConfig, repo: string) => Promise<unknown>;
}): RepoDispatchers {
  const running = new Map<string, Promise<void>>();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    // A configuration that turned bad keeps the last good one in force (currentConfig).
    let config: LoadedConfig;
    try {
      config = args.config();
    } catch (err) {
      log.error({ err: (err as Error).message }, "dispatch: no configuration to dispatch with");
      return;
    }
    for (const { name } of config.repositories) {
      if (running.has(name)) continue;
      const pass = Promise.resolve()
        .then(() => args.pass(config, name))
        // Whatever goes wrong in a repository's pass is logged; its next pass runs.
        .then(
          () => undefined,
          (err: Error) => log.error({ repo: name, err: err.message }, "dispatch pass failed"),
        )
        .finally(() => running.delete(name));
      running.set(name, pass);
    }
  };
  const timer = setInterval(tick, args.intervalMs);
  return {
    busy: () => [...running.keys()],
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
