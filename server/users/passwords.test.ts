import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { PASSWORD_MAX } from "./limits";
import { checkPassword, hashPassword, needsRehash, PasswordTooLongError } from "./passwords";

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
});
