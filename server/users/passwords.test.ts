import { parseOptions } from "@node-rs/argon2";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { PASSWORD_MAX } from "./limits";
import {
  ARGON2_COSTS,
  checkPassword,
  hashPassword,
  needsRehash,
  PasswordTooLongError,
} from "./passwords";

describe("password hashes", () => {
  it("are argon2id and read the whole password, not its first 72 bytes", async () => {
    const password = `${"é".repeat(36)}${"x".repeat(28)}`; // 72 bytes of é, then 28 more
    expect(Buffer.byteLength(password)).toBe(100);
    const stored = await hashPassword(password);
    expect(stored).toMatch(/^\$argon2id\$/);
    expect(await checkPassword(password, stored)).toBe(true);
    expect(await checkPassword(`${password.slice(0, -1)}y`, stored)).toBe(false);
    expect(needsRehash(stored)).toBe(false);
  });

  it("still check a bcrypt hash, and ask for it to be replaced", async () => {
    const stored = bcrypt.hashSync("old-password", 4);
    expect(await checkPassword("old-password", stored)).toBe(true);
    expect(await checkPassword("old-passwore", stored)).toBe(false);
    expect(needsRehash(stored)).toBe(true);
  });

  it("refuse a password over the limit with an error that names it", async () => {
    await expect(hashPassword("x".repeat(PASSWORD_MAX + 1))).rejects.toThrow(
      new PasswordTooLongError(),
    );
    expect(new PasswordTooLongError().message).toBe("password: must be at most 1024 characters");
    const stored = await hashPassword("x".repeat(PASSWORD_MAX));
    expect(await checkPassword("x".repeat(PASSWORD_MAX + 1), stored)).toBe(false);
  });

  it("treat a malformed stored hash as a mismatch", async () => {
    expect(await checkPassword("anything", "not a hash")).toBe(false);
    expect(needsRehash("not a hash")).toBe(true);
  });

  it("cost OWASP's baseline unless HYPERION_PASSWORD_COST asks for the cheapest (test suites)", async () => {
    expect(ARGON2_COSTS.standard).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const standard = await hashPassword("a-password-here", "standard");
    expect(parseOptions(standard)).toMatchObject(ARGON2_COSTS.standard);
    expect(await checkPassword("a-password-here", standard)).toBe(true);
    // The suite runs with HYPERION_PASSWORD_COST=minimal (vitest.config.ts).
    const minimal = await hashPassword("a-password-here");
    expect(parseOptions(minimal)).toMatchObject(ARGON2_COSTS.minimal);
    expect(await checkPassword("a-password-here", minimal)).toBe(true);
  });

  it("weaker than the configured cost are rehashed at sign-in; stronger ones are kept", async () => {
    const minimal = await hashPassword("a-password-here", "minimal");
    const standard = await hashPassword("a-password-here", "standard");
    expect(needsRehash(minimal, "standard")).toBe(true);
    expect(needsRehash(standard, "standard")).toBe(false);
    expect(needsRehash(standard, "minimal")).toBe(false);
    expect(needsRehash(minimal)).toBe(false);
  });
});
