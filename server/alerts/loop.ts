import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { deliverDue } from "./deliver";
import { evaluateAlerts } from "./evaluate";

/**
 * The worker's alert loop: every `intervalMs`, the config's rules are checked (alerts fired
 * and resolved) and the deliveries that are due are sent, one pass at a time. Each worker host
 * runs it; the database keeps them from firing or sending anything twice.
 */
export function startAlerts(args: {
  db: Db;
  config: () => LoadedConfig;
  owner: string;
  /** The worker's own id: it is alive, whatever its heartbeat says. */
  self: string;
  intervalMs: number;
  baseUrl?: string;
}): { stop: () => Promise<void>; pass: () => Promise<void> } {
  let stopping = false;
  let current: Promise<void> | null = null;
  const pass = (): Promise<void> => {
    if (current || stopping) return current ?? Promise.resolve();
    current = (async () => {
      const rules = args.config().alerts ?? [];
      await evaluateAlerts(args.db, rules, { self: args.self });
      await deliverDue(args.db, rules, {
        owner: args.owner,
        ...(args.baseUrl ? { baseUrl: args.baseUrl } : {}),
      });
    })()
      .catch((err: Error) => log.error({ err: err.message }, "alert pass failed"))
      .finally(() => {
        current = null;
      });
    return current;
  };
  const timer = setInterval(() => void pass(), args.intervalMs);
  return {
    pass,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await current;
    },
  };
}
