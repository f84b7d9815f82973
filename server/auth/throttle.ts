import { and, count, eq, gt, lte } from "drizzle-orm";
import type { Db, DbLike } from "@/server/db/client";
import { loginAttempts } from "@/server/db/schema";

export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;
/** Failures on one account, from anywhere, before its sign-ins are slowed down. */
export const FREE_FAILURES = 3;
export const FIRST_DELAY_MS = 250;
export const MAX_DELAY_MS = 8000;
/** Failures from one client address, on any accounts, before it is refused outright. */
export const ADDRESS_LIMIT = 20;

export type AttemptKey = { email: string; address: string };

export type Throttle = {
  /** How long to wait before checking this attempt's password. */
  delayMs: number;
  /** True when the client address has used up its failures; the password is not checked. */
  refused: boolean;
  /** Failures in the window before this attempt, on this account and from this address. */
  accountFailures: number;
  addressFailures: number;
};

/**
 * The account's failures slow every attempt on it, whoever makes them, but only up to
 * MAX_DELAY_MS: a stranger's guesses cannot lock the owner out. The hard refusal is per client
 * address, so it stops the guesser, not the owner.
 */
export function delayFor(accountFailures: number): number {
  const over = accountFailures - FREE_FAILURES;
  return over < 0 ? 0 : Math.min(FIRST_DELAY_MS * 2 ** over, MAX_DELAY_MS);
}

const normalise = (key: AttemptKey) => ({ email: key.email.toLowerCase(), address: key.address });

function counts(db: DbLike, key: AttemptKey, now: number) {
  const since = gt(loginAttempts.at, now - THROTTLE_WINDOW_MS);
  const n = (where: ReturnType<typeof and>) =>
    db.select({ n: count() }).from(loginAttempts).where(where).get()?.n ?? 0;
  const account = n(and(eq(loginAttempts.email, key.email), since));
  const address = n(and(eq(loginAttempts.address, key.address), since));
  return {
    delayMs: delayFor(account),
    refused: address >= ADDRESS_LIMIT,
    accountFailures: account,
    addressFailures: address,
  };
}

/**
 * Records a sign-in attempt and reads the counts before it, in one write transaction, before
 * the password is looked at: concurrent guesses each see the ones before them. The row stays
 * as a failure unless `clearFailures` removes it after a right password. Refused attempts are
 * recorded too, so a client that keeps guessing stays refused.
 */
export function recordAttempt(db: Db, key: AttemptKey, now = Date.now()): Throttle {
  const k = normalise(key);
  return db.transaction((tx) => {
    tx.delete(loginAttempts)
      .where(lte(loginAttempts.at, now - THROTTLE_WINDOW_MS))
      .run();
    const throttle = counts(tx, k, now);
    tx.insert(loginAttempts).values({ email: k.email, address: k.address, at: now }).run();
    return throttle;
  });
}

/** The throttle the next attempt would meet, without recording one. */
export function throttleFor(db: Db, key: AttemptKey, now = Date.now()): Throttle {
  return counts(db, normalise(key), now);
}

/** After a right password: forget this address's failures on this account, and only those. */
export function clearFailures(db: Db, key: AttemptKey): void {
  const k = normalise(key);
  db.delete(loginAttempts)
    .where(and(eq(loginAttempts.email, k.email), eq(loginAttempts.address, k.address)))
    .run();
}
