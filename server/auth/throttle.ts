import { and, count, eq, gt, lt } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { loginAttempts } from "@/server/db/schema";

export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;
const FREE_FAILURES = 3;
const MAX_DELAY_MS = 8000;
export const LOCKOUT_FAILURES = 20;

export type Throttle = { delayMs: number; locked: boolean; failures: number };

/**
 * How much to slow the next sign-in for this email: nothing for the first few failures, then a
 * doubling delay, and a refusal once the window holds too many. Keyed by email so that a
 * guesser cannot spread attempts over many connections.
 */
export function throttleFor(db: Db, email: string, now = Date.now()): Throttle {
  const failures =
    db
      .select({ n: count() })
      .from(loginAttempts)
      .where(
        and(
          eq(loginAttempts.email, email.toLowerCase()),
          gt(loginAttempts.at, now - THROTTLE_WINDOW_MS),
        ),
      )
      .get()?.n ?? 0;
  const over = failures - FREE_FAILURES;
  const delayMs = over < 0 ? 0 : Math.min(250 * 2 ** over, MAX_DELAY_MS);
  return { delayMs, locked: failures >= LOCKOUT_FAILURES, failures };
}

export function recordFailure(db: Db, email: string, now = Date.now()): void {
  db.insert(loginAttempts).values({ email: email.toLowerCase(), at: now }).run();
  db.delete(loginAttempts)
    .where(lt(loginAttempts.at, now - THROTTLE_WINDOW_MS))
    .run();
}

export function clearFailures(db: Db, email: string): void {
  db.delete(loginAttempts).where(eq(loginAttempts.email, email.toLowerCase())).run();
}
