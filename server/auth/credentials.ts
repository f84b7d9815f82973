import type { Db } from "@/server/db/client";
import { checkPassword, hashPassword } from "@/server/users/passwords";
import { findUserByEmail, type User } from "@/server/users/service";
import { clearFailures, recordFailure, throttleFor } from "./throttle";

export type SignInResult = { ok: true; user: User } | { ok: false; reason: "invalid" | "locked" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function verifyCredentials(
  db: Db,
  email: string,
  password: string,
  opts: { sleep?: (ms: number) => Promise<void> } = {},
): Promise<SignInResult> {
  const throttle = throttleFor(db, email);
  if (throttle.locked) return { ok: false, reason: "locked" };
  await (opts.sleep ?? sleep)(throttle.delayMs);
  const row = findUserByEmail(db, email);
  // Compare against a fixed hash when the user is unknown so timing does not reveal accounts.
  const ok = await checkPassword(password, row?.passwordHash ?? (await dummyHash()));
  if (!row || !ok) {
    recordFailure(db, email);
    return { ok: false, reason: "invalid" };
  }
  clearFailures(db, email);
  return { ok: true, user: { id: row.id, email: row.email, role: row.role } };
}

let dummy: Promise<string> | undefined;
const dummyHash = () => {
  dummy ??= hashPassword("no such user");
  return dummy;
};
