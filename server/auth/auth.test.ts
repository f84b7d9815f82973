import bcrypt from "bcryptjs";
import { count, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokens, loginAttempts, users } from "@/server/db/schema";
import { makeWorld, type TestWorld } from "@/server/testing/fixtures";
import { addUser } from "@/server/users/service";
import { createToken, revokeToken, userForToken } from "@/server/users/tokens";
import { verifyCredentials } from "./credentials";
import {
  ADDRESS_LIMIT,
  delayFor,
  FREE_FAILURES,
  MAX_DELAY_MS,
  THROTTLE_WINDOW_MS,
  throttleFor,
} from "./throttle";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const ADMIN = "admin@hyperion.local";
const PASSWORD = "admin-password-1";
const noSleep = async () => {};

/** A sleep that only notes how long it was asked to wait. */
function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

const attempts = (email = ADMIN) =>
  world.db.select({ n: count() }).from(loginAttempts).where(eq(loginAttempts.email, email)).get()
    ?.n ?? 0;

describe("sign-in", () => {
  it("accepts the right password and refuses a wrong one", async () => {
    const ok = await verifyCredentials(world.db, "ADMIN@hyperion.local", PASSWORD, {
      sleep: noSleep,
    });
    expect(ok).toMatchObject({ ok: true, user: { email: ADMIN, role: "admin" } });
    const bad = await verifyCredentials(world.db, ADMIN, "wrong", { sleep: noSleep });
    expect(bad).toEqual({ ok: false, reason: "invalid" });
    const unknown = await verifyCredentials(world.db, "nobody@example.test", "x", {
      sleep: noSleep,
    });
    expect(unknown).toEqual({ ok: false, reason: "invalid" });
  });

  it("slows an account's sign-ins as its failures grow, up to a bound", () => {
    const delays = Array.from({ length: 12 }, (_, n) => delayFor(n));
    expect(delays.slice(0, FREE_FAILURES)).toEqual([0, 0, 0]);
    for (let i = FREE_FAILURES + 1; i < delays.length; i++) {
      expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
    }
    expect(delays[FREE_FAILURES + 1]).toBeGreaterThan(delays[FREE_FAILURES] ?? 0);
    expect(Math.max(...delays)).toBe(MAX_DELAY_MS);
  });

  it("counts 40 concurrent wrong guesses, each seeing the ones before it", async () => {
    const { delays, sleep } = recordingSleep();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifyCredentials(world.db, ADMIN, `guess-${i}`, { address: `10.0.0.${i}`, sleep }),
      ),
    );
    expect(results.every((r) => !r.ok && r.reason === "invalid")).toBe(true);
    expect(attempts()).toBe(40);
    expect(delays).toEqual(Array.from({ length: 40 }, (_, n) => delayFor(n)));
    expect(delays.at(-1)).toBe(MAX_DELAY_MS);
    expect(delays[10]).toBeGreaterThan(delays[5] ?? 0);
  });

  it("refuses one address outright after its failures, but only that address", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifyCredentials(world.db, ADMIN, `guess-${i}`, {
          address: "203.0.113.9",
          sleep: noSleep,
        }),
      ),
    );
    expect(attempts()).toBe(40);
    expect(results.filter((r) => !r.ok && r.reason === "invalid")).toHaveLength(ADDRESS_LIMIT);
    expect(results.slice(ADDRESS_LIMIT).every((r) => !r.ok && r.reason === "locked")).toBe(true);
    const right = await verifyCredentials(world.db, ADMIN, PASSWORD, {
      address: "203.0.113.9",
      sleep: noSleep,
    });
    expect(right).toEqual({ ok: false, reason: "locked" });

    const { delays, sleep } = recordingSleep();
    const owner = await verifyCredentials(world.db, ADMIN, PASSWORD, {
      address: "198.51.100.7",
      sleep,
    });
    expect(owner).toMatchObject({ ok: true });
    expect(delays).toEqual([MAX_DELAY_MS]);
  });

  it("a success clears that address's failures on the account, and only those", async () => {
    for (let i = 0; i < 5; i++) {
      await verifyCredentials(world.db, ADMIN, "x", { address: "a", sleep: noSleep });
      await verifyCredentials(world.db, ADMIN, "x", { address: "b", sleep: noSleep });
    }
    await verifyCredentials(world.db, ADMIN, PASSWORD, { address: "a", sleep: noSleep });
    const key = { email: ADMIN, address: "a" };
    expect(throttleFor(world.db, key)).toMatchObject({ accountFailures: 5, addressFailures: 0 });
    expect(throttleFor(world.db, { email: ADMIN, address: "b" }).addressFailures).toBe(5);
  });

  it("forgets failures older than the window", async () => {
    const start = 1_000_000;
    for (let i = 0; i < 6; i++) {
      await verifyCredentials(world.db, ADMIN, "x", { now: () => start, sleep: noSleep });
    }
    const later = start + THROTTLE_WINDOW_MS + 1;
    expect(throttleFor(world.db, { email: ADMIN, address: "unknown" }, later)).toMatchObject({
      delayMs: 0,
      accountFailures: 0,
    });
  });
});

describe("passwords at sign-in", () => {
  it("checks every byte: a 100-byte password that differs only after byte 72 is refused", async () => {
    const long = `${"p".repeat(72)}${"a".repeat(28)}`;
    const { user } = await addUser(world.db, {
      email: "long@example.test",
      role: "requester",
      password: long,
    });
    const twin = `${"p".repeat(72)}${"b".repeat(28)}`;
    expect(Buffer.byteLength(twin)).toBe(100);
    expect(await verifyCredentials(world.db, user.email, twin, { sleep: noSleep })).toEqual({
      ok: false,
      reason: "invalid",
    });
    expect(await verifyCredentials(world.db, user.email, long, { sleep: noSleep })).toMatchObject({
      ok: true,
    });
  });

  it("still accepts a bcrypt hash, and stores argon2id in its place", async () => {
    world.db
      .update(users)
      .set({ passwordHash: bcrypt.hashSync(PASSWORD, 4) })
      .where(eq(users.email, ADMIN))
      .run();
    const hashOf = () =>
      world.db.select().from(users).where(eq(users.email, ADMIN)).get()?.passwordHash ?? "";
    expect(hashOf()).toMatch(/^\$2[ab]\$/);
    expect(await verifyCredentials(world.db, ADMIN, "wrong", { sleep: noSleep })).toMatchObject({
      ok: false,
    });
    expect(hashOf()).toMatch(/^\$2[ab]\$/);
    expect(await verifyCredentials(world.db, ADMIN, PASSWORD, { sleep: noSleep })).toMatchObject({
      ok: true,
    });
    expect(hashOf()).toMatch(/^\$argon2id\$/);
    expect(await verifyCredentials(world.db, ADMIN, PASSWORD, { sleep: noSleep })).toMatchObject({
      ok: true,
    });
  });

  it("refuses a password over the limit without hashing it, and counts the attempt", async () => {
    const result = await verifyCredentials(world.db, ADMIN, "x".repeat(1025), { sleep: noSleep });
    expect(result).toEqual({ ok: false, reason: "too_long" });
    expect(attempts()).toBe(1);
  });
});

describe("API tokens", () => {
  it("resolve to their user, are stored only as a hash, and stop working when revoked", () => {
    const { token, id } = createToken(world.db, world.admin, "ci");
    expect(userForToken(world.db, token)).toMatchObject({ email: world.admin.email });
    const stored = world.db.select().from(apiTokens).all();
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(userForToken(world.db, `${token}x`)).toBeUndefined();
    revokeToken(world.db, id);
    expect(userForToken(world.db, token)).toBeUndefined();
  });
});
