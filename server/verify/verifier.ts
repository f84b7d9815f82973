import type { Db } from "@/server/db/client";
import { hostName, ownerAlive } from "@/server/workers/heartbeat";

/** The owner a CLI run records: the host and process, which a later verifier can test. */
export function cliVerifier(): string {
  return `cli:${hostName()}:${process.pid}`;
}

/**
 * Whether the verifier behind an owner is alive: a worker by its heartbeat (ownerAlive), a CLI
 * run by its process on this host (one on another host is taken for alive: it cannot be asked).
 */
export async function verifierAlive(db: Db, owner: string): Promise<boolean> {
  const cli = /^cli:(.*):(\d+)$/.exec(owner);
  if (!cli) return ownerAlive(db, owner);
  if (cli[1] !== hostName()) return true;
  try {
    process.kill(Number(cli[2]), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
