import { randomBytes } from "node:crypto";
import { hash, type Options, parseOptions, verify } from "@node-rs/argon2";
import bcrypt from "bcryptjs";
import { currentEnv } from "@/server/env.mjs";
import { PASSWORD_MAX } from "./limits";

export { PASSWORD_MAX, PASSWORD_MIN } from "./limits";

export type PasswordCost = "standard" | "minimal";

/**
 * argon2id (the library's default algorithm). Unlike bcrypt it reads the whole password, not its
 * first 72 bytes. `standard` is OWASP's baseline, 19 MiB and two passes; `minimal` the cheapest
 * setting, for test suites that hash hundreds of passwords (HYPERION_PASSWORD_COST).
 */
export const ARGON2_COSTS: Record<PasswordCost, Options> = {
  standard: { memoryCost: 19_456, timeCost: 2, parallelism: 1 },
  minimal: { memoryCost: 64, timeCost: 1, parallelism: 1 },
};

/** HYPERION_PASSWORD_COST, as parsed by server/env.mjs. */
const configuredCost = (): PasswordCost => currentEnv().HYPERION_PASSWORD_COST;

const BCRYPT = /^\$2[aby]\$/;

export class PasswordTooLongError extends Error {
  override name = "PasswordTooLongError";
  constructor() {
    super(`password: must be at most ${PASSWORD_MAX} characters`);
  }
}

export function hashPassword(
  password: string,
  cost: PasswordCost = configuredCost(),
): Promise<string> {
  if (password.length > PASSWORD_MAX) return Promise.reject(new PasswordTooLongError());
  return hash(password, ARGON2_COSTS[cost]);
}

/** Checks an argon2id hash, or a bcrypt one written before the switch. */
export async function checkPassword(password: string, stored: string): Promise<boolean> {
  if (password.length > PASSWORD_MAX) return false;
  if (BCRYPT.test(stored)) return bcrypt.compare(password, stored);
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** True for a bcrypt hash or an argon2 one weaker than `cost`'s settings: rehash at sign-in. */
export function needsRehash(stored: string, cost: PasswordCost = configuredCost()): boolean {
  if (!stored.startsWith("$argon2id$")) return true;
  const ARGON2 = ARGON2_COSTS[cost];
  try {
    const used = parseOptions(stored);
    return (
      used.memoryCost < (ARGON2.memoryCost ?? 0) ||
      used.timeCost < (ARGON2.timeCost ?? 0) ||
      used.parallelism < (ARGON2.parallelism ?? 0)
    );
  } catch {
    return true;
  }
}

export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
