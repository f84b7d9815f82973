import pidtree from "pidtree";

/** Between the steps of a stop: interrupt, then SIGTERM, then SIGKILL (as Vibe Kanban does). */
export const STOP_STEP_MS = 2000;

/**
 * The one way a confined child is stopped: each signal of the ladder to its process group, the
 * next only if it has not ended within `stepMs`; then SIGKILL to the group and to every
 * descendant found before and after (outside bubblewrap, agent CLIs put tool commands in groups
 * of their own; under bubblewrap the pid namespace takes them anyway). Resolves when it ended.
 */
export async function stopLadder<T>(opts: {
  pid: number;
  ended: Promise<T>;
  stepMs?: number;
  signals?: readonly NodeJS.Signals[];
}): Promise<T> {
  const step = opts.stepMs ?? STOP_STEP_MS;
  const tree = await descendants(opts.pid);
  for (const signal of opts.signals ?? (["SIGINT", "SIGTERM", "SIGKILL"] as const)) {
    signalGroup(opts.pid, signal);
    const done = await Promise.race([opts.ended.then(() => true), delay(step).then(() => false)]);
    if (done) break;
  }
  killAll(opts.pid, [...tree, ...(await descendants(opts.pid))]);
  return opts.ended;
}

/** SIGKILL to the group and to each of `pids`: whatever is left goes. */
export function killAll(pid: number, pids: number[] = []): void {
  signalGroup(pid, "SIGKILL");
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

async function descendants(pid: number): Promise<number[]> {
  try {
    return await pidtree(pid);
  } catch {
    return [];
  }
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
