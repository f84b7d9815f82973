import type { Db } from "@/server/db/client";
import { EMAIL_MAX, PASSWORD_MAX } from "@/server/users/limits";
import { checkPassword, hashPassword, needsRehash } from "@/server/users/passwords";
import { findUserByEmail, setPasswordHash, type User } from "@/server/users/service";
import { UNKNOWN_ADDRESS } from "./client-address";
import { clearFailures, MAX_WAIT_MS, recordAttempt } from "./throttle";

export type SignInResult =
  | { ok: true; user: User }
  | { ok: false; reason: "invalid" | "too_long" }
  /**
   * Refused unchecked. With `retryAfterMs`, the account's turns are taken for the next
   * MAX_WAIT_MS, and an attempt that much later would get one unless others take it first;
   * without, this client address has failed too often (for THROTTLE_WINDOW_MS).
   */
  | { ok: false; reason: "locked"; retryAfterMs?: number };

export type SignInOptions = {
  /**
   * The client's address (see client-address.ts); failures are counted per address too. Left
   * out, it is "unknown", which is slowed down like any other but never refused outright.
   */
  address?: string;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Checks an email and password. The attempt is recorded before anything is awaited, so
 * concurrent guesses each count and each take a turn on the account, spaced by its recent
 * failures (whoever made them); the password is checked at the attempt's turn. It is refused
 * unchecked when its turn is more than MAX_WAIT_MS away, or when this client address has failed
 * too often on this account, or on all accounts together (see throttle.ts). A stranger
 * elsewhere can therefore slow an account down, and while flooding it take most of its turns,
 * but not lock its owner out: a sign-in that gets a turn waits at most MAX_WAIT_MS, and one
 * made MAX_DELAY_MS after a flood ends gets a turn. A right password clears this address's
 * failures on the account and moves an old hash to argon2id.
 */
export async function verifyCredentials(
  db: Db,
  email: string,
  password: string,
  opts: SignInOptions = {},
): Promise<SignInResult> {
  const key = { email: email.trim().toLowerCase(), address: opts.address ?? UNKNOWN_ADDRESS };
  // No account has such an email, and it is not worth a row.
  if (!key.email || key.email.length > EMAIL_MAX) return { ok: false, reason: "invalid" };
  const throttle = await recordAttempt(db, key, opts.now?.());
  if (throttle.refused) return { ok: false, reason: "locked" };
  if (password.length > PASSWORD_MAX) return { ok: false, reason: "too_long" };
  if (throttle.busy) {
    return { ok: false, reason: "locked", retryAfterMs: throttle.waitMs - MAX_WAIT_MS };
  }
  await (opts.sleep ?? sleep)(throttle.waitMs);
  const row = await findUserByEmail(db, key.email);
  // Compare against a fixed hash when the user is unknown so timing does not reveal accounts.
  const ok = await checkPassword(password, row?.passwordHash ?? (await dummyHash()));
  // A disabled user's right password is refused like a wrong one: nothing tells them apart.
  if (!row || !ok || row.disabledAt !== null) return { ok: false, reason: "invalid" };
  await clearFailures(db, key);
  if (needsRehash(row.passwordHash))
    await setPasswordHash(db, row.id, await hashPassword(password));
  return { ok: true, user: { id: row.id, email: row.email, role: row.role } };
}

let dummy: Promise<string> | undefined;
const dummyHash = () => {
  dummy ??= hashPassword("no such user");
  return dummy;
};
