import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { type Passes, startPasses } from "@/server/workers/passes";
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
}): Passes {
  return startPasses(args.intervalMs, "alert pass failed", async () => {
    const rules = args.config().alerts ?? [];
    await evaluateAlerts(args.db, rules, { self: args.self });
    await deliverDue(args.db, rules, {
      owner: args.owner,
      ...(args.baseUrl ? { baseUrl: args.baseUrl } : {}),
    });
  });
}
