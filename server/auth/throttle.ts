import { and, count, eq, gt, lte, max } from "drizzle-orm";
import type { Db, DbLike } from "@/server/db/client";
import { loginAttempts } from "@/server/db/schema";
import { UNKNOWN_ADDRESS } from "./client-address";

export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;
/** Failures on one account, from anywhere, before its sign-ins are slowed down. */
export const FREE_FAILURES = 3;
export const FIRST_DELAY_MS = 250;
export const MAX_DELAY_MS = 8000;
/**
 * The longest an attempt waits for its turn. One whose turn is further off is refused at once
 * (and still recorded), so a flood cannot park hours of waiting requests in memory, and the
 * owner, signing in during one, waits at most this long once a turn is free.
 */
export const MAX_WAIT_MS = 60 * 1000;
/** Failures on one account from one client address before that address is refused on it. */
export const ACCOUNT_ADDRESS_LIMIT = 20;
/** Failures from one client address, on any accounts, before it is refused on all of them. */
export const ADDRESS_LIMIT = 200;

export type AttemptKey = { email: string; address: string };

export type Throttle = {
  /** The account's delay: how long after the previous attempt's turn this one's comes. */
  delayMs: number;
  /**
   * When this attempt's password may be checked: max(now, the account's latest turn) +
   * delayMs. Guesses on one account take turns, so a thousand sent at once are not all checked
   * after one delay. Stored as the attempt's `at` (see `recordAttempt`).
   */
  slotAt: number;
  /** slotAt − now: how long to wait before checking the password. */
  waitMs: number;
  /** True when waitMs is over MAX_WAIT_MS: the attempt is refused at once, unchecked. */
  busy: boolean;
  /**
   * True when the client address has used up its failures on this account, or on all accounts
   * together; the password is not checked. Never true for the address "unknown".
   */
  refused: boolean;
  /** Failures in the window before this attempt: on this account from anywhere, … */
  accountFailures: number;
  /** … on this account from this address, … */
  accountAddressFailures: number;
  /** … and from this address on any account. */
  addressFailures: number;
};

/**
 * The account's failures slow every attempt on it, whoever makes them, but only up to
 * MAX_DELAY_MS between turns: a stranger's guesses cannot lock the owner out. Hard refusals are
 * per client address (see `refusedFor`), so they stop the guesser, not the owner.
 */
export function delayFor(accountFailures: number): number {
  const over = accountFailures - FREE_FAILURES;
  return over < 0 ? 0 : Math.min(FIRST_DELAY_MS * 2 ** over, MAX_DELAY_MS);
}

/**
 * Whether an address with these failures is refused outright: ACCOUNT_ADDRESS_LIMIT on this
 * account, or ADDRESS_LIMIT across accounts (password spraying). An address that is "unknown"
 * (no start-up hook) is every client at once, so it is never refused: that would let anyone
 * lock everyone out. It only meets the account's delay.
 */
export function refusedFor(
  address: string,
  failures: { accountAddressFailures: number; addressFailures: number },
): boolean {
  if (address === UNKNOWN_ADDRESS) return false;
  return (
    failures.accountAddressFailures >= ACCOUNT_ADDRESS_LIMIT ||
    failures.addressFailures >= ADDRESS_LIMIT
  );
}

const normalise = (key: AttemptKey) => ({ email: key.email.toLowerCase(), address: key.address });

async function counts(db: DbLike, key: AttemptKey, now: number): Promise<Throttle> {
  const since = gt(loginAttempts.at, now - THROTTLE_WINDOW_MS);
  const n = async (where: Awaited<ReturnType<typeof and>>) =>
    (await db.select({ n: count() }).from(loginAttempts).where(where).limit(1))[0]?.n ?? 0;
  const email = eq(loginAttempts.email, key.email);
  const address = eq(loginAttempts.address, key.address);
  const failures = {
    accountFailures: await n(and(email, since)),
    accountAddressFailures: await n(and(email, address, since)),
    addressFailures: await n(and(address, since)),
  };
  // The account's latest turn: rows of attempts that were let through hold their turn in `at`.
  const latest =
    (
      await db
        .select({ at: max(loginAttempts.at) })
        .from(loginAttempts)
        .where(and(email, since))
        .limit(1)
    )[0]?.at ?? now;
  const delayMs = delayFor(failures.accountFailures);
  const slotAt = Math.max(now, latest) + delayMs;
  return {
    delayMs,
    slotAt,
    waitMs: slotAt - now,
    busy: slotAt - now > MAX_WAIT_MS,
    refused: refusedFor(key.address, failures),
    ...failures,
  };
}

/**
 * Records a sign-in attempt and reads the counts before it, in one write transaction, before
 * the password is looked at: concurrent guesses each see the ones before them, and each takes
 * the next turn on the account. An attempt that will be checked is stored with its turn as
 * `at` (so the next one's turn follows it, and its failure is forgotten THROTTLE_WINDOW_MS after
 * it was checked); a refused or busy one with `now`, taking no turn. The row stays as a failure
 * unless `clearFailures` removes it after a right password. Refused and busy attempts are
 * recorded too, so a client that keeps guessing stays refused and slowed.
 */
export async function recordAttempt(db: Db, key: AttemptKey, now = Date.now()): Promise<Throttle> {
  const k = normalise(key);
  return db.transaction(async (tx) => {
    await tx.delete(loginAttempts).where(lte(loginAttempts.at, now - THROTTLE_WINDOW_MS));
    const throttle = await counts(tx, k, now);
    const at = throttle.refused || throttle.busy ? now : throttle.slotAt;
    await tx.insert(loginAttempts).values({ email: k.email, address: k.address, at });
    return throttle;
  });
}

/** The throttle the next attempt would meet, without recording one. */
export async function throttleFor(db: Db, key: AttemptKey, now = Date.now()): Promise<Throttle> {
  return counts(db, normalise(key), now);
}

/** After a right password: forget this address's failures on this account, and only those. */
export async function clearFailures(db: Db, key: AttemptKey): Promise<void> {
  const k = normalise(key);
  await db
    .delete(loginAttempts)
    .where(and(eq(loginAttempts.email, k.email), eq(loginAttempts.address, k.address)));
}
