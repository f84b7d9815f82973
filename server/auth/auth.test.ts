import bcrypt from "bcryptjs";
import { count, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokens, loginAttempts, users } from "@/server/db/schema";
import { addUser } from "@/server/users/service";
import { createToken, revokeToken, userForToken } from "@/server/users/tokens";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { verifyCredentials } from "./credentials";
import {
  ACCOUNT_ADDRESS_LIMIT,
  ADDRESS_LIMIT,
  delayFor,
  FREE_FAILURES,
  MAX_DELAY_MS,
  MAX_WAIT_MS,
  recordAttempt,
  refusedFor,
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

/**
 * How long each of many attempts arriving at once on a fresh account waits: each turn comes
 * its delay after the one before (0, 0, 0, then 250 ms doubling to 8 s), and the 15th, whose
 * turn would be 63.75 s away, is refused at once, as is every one after it.
 */
const TURNS = [0, 0, 0, 250, 750, 1750, 3750, 7750, 15750, 23750, 31750, 39750, 47750, 55750];
/** When, after such a flood, the next turn within MAX_WAIT_MS frees up. */
const NEXT_TURN = 55750 + MAX_DELAY_MS - MAX_WAIT_MS;
const invalid = (r: { ok: boolean; reason?: string }) => !r.ok && r.reason === "invalid";

const attempts = async (email = ADMIN) =>
  (
    await world.db
      .select({ n: count() })
      .from(loginAttempts)
      .where(eq(loginAttempts.email, email))
      .limit(1)
  )[0]?.n ?? 0;

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

  it("counts 40 concurrent wrong guesses, each seeing the ones before it and taking the next turn", async () => {
    const { delays, sleep } = recordingSleep();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifyCredentials(world.db, ADMIN, `guess-${i}`, {
          address: `10.0.0.${i}`,
          sleep,
          now: () => 1_000_000,
        }),
      ),
    );
    expect(await attempts()).toBe(40);
    expect(delays).toEqual(TURNS);
    for (let n = 1; n < TURNS.length; n++) {
      expect((TURNS[n] ?? 0) - (TURNS[n - 1] ?? 0)).toBe(delayFor(n));
    }
    expect(results.slice(0, TURNS.length).every(invalid)).toBe(true);
    expect(results.slice(TURNS.length)).toEqual(
      Array(40 - TURNS.length).fill({ ok: false, reason: "locked", retryAfterMs: NEXT_TURN }),
    );
  });

  it("guesses arriving MAX_DELAY_MS apart each wait only their own delay", async () => {
    const { delays, sleep } = recordingSleep();
    for (let i = 0; i < 40; i++) {
      const now = () => 1_000_000 + i * MAX_DELAY_MS;
      const r = await verifyCredentials(world.db, ADMIN, `guess-${i}`, { sleep, now });
      expect(r).toEqual({ ok: false, reason: "invalid" });
    }
    expect(delays).toEqual(Array.from({ length: 40 }, (_, n) => delayFor(n)));
    expect(delays.at(-1)).toBe(MAX_DELAY_MS);
  });

  it("refuses one address outright on an account after its failures there, but only that address", async () => {
    // Recorded together, but arriving MAX_DELAY_MS apart, so none waits for another's turn.
    const T = 1_000_000;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifyCredentials(world.db, ADMIN, `guess-${i}`, {
          address: "203.0.113.9",
          sleep: noSleep,
          now: () => T + i * MAX_DELAY_MS,
        }),
      ),
    );
    expect(await attempts()).toBe(40);
    expect(results.filter((r) => !r.ok && r.reason === "invalid")).toHaveLength(
      ACCOUNT_ADDRESS_LIMIT,
    );
    expect(results.slice(ACCOUNT_ADDRESS_LIMIT).every((r) => !r.ok && r.reason === "locked")).toBe(
      true,
    );
    const later = () => T + 40 * MAX_DELAY_MS;
    const right = await verifyCredentials(world.db, ADMIN, PASSWORD, {
      address: "203.0.113.9",
      sleep: noSleep,
      now: later,
    });
    expect(right).toEqual({ ok: false, reason: "locked" });

    const { delays, sleep } = recordingSleep();
    const owner = await verifyCredentials(world.db, ADMIN, PASSWORD, {
      address: "198.51.100.7",
      sleep,
      now: later,
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
    expect(await throttleFor(world.db, key)).toMatchObject({
      accountFailures: 5,
      addressFailures: 0,
    });
    expect((await throttleFor(world.db, { email: ADMIN, address: "b" })).addressFailures).toBe(5);
  });

  it("forgets failures older than the window", async () => {
    const start = 1_000_000;
    for (let i = 0; i < 6; i++) {
      await verifyCredentials(world.db, ADMIN, "x", { now: () => start, sleep: noSleep });
    }
    // A failure counts from its turn, which is at most MAX_WAIT_MS after it was made.
    const later = start + MAX_WAIT_MS + THROTTLE_WINDOW_MS;
    expect(await throttleFor(world.db, { email: ADMIN, address: "unknown" }, later)).toMatchObject({
      delayMs: 0,
      slotAt: later,
      waitMs: 0,
      accountFailures: 0,
    });
  });
});

describe("hard refusals", () => {
  const T = 5_000_000;
  /** n failures MAX_DELAY_MS apart, the last just before `now`: none waits for another's turn. */
  const fail = async (email: string, address: string, n: number, now = T) => {
    for (let i = 0; i < n; i++) {
      await recordAttempt(world.db, { email, address }, now - (n - i) * MAX_DELAY_MS);
    }
  };
  const X = "x@example.test";
  const Y = "y@example.test";

  it("refusedFor: 20 on the account from the address, or 200 from it on any; never for unknown", () => {
    const none = { accountAddressFailures: 0, addressFailures: 0 };
    expect(refusedFor("192.0.2.1", none)).toBe(false);
    expect(
      refusedFor("192.0.2.1", { ...none, accountAddressFailures: ACCOUNT_ADDRESS_LIMIT - 1 }),
    ).toBe(false);
    expect(
      refusedFor("192.0.2.1", { ...none, accountAddressFailures: ACCOUNT_ADDRESS_LIMIT }),
    ).toBe(true);
    expect(refusedFor("192.0.2.1", { ...none, addressFailures: ADDRESS_LIMIT - 1 })).toBe(false);
    expect(refusedFor("192.0.2.1", { ...none, addressFailures: ADDRESS_LIMIT })).toBe(true);
    expect(refusedFor("unknown", { accountAddressFailures: 10_000, addressFailures: 10_000 })).toBe(
      false,
    );
    expect(ADDRESS_LIMIT).toBeGreaterThanOrEqual(10 * ACCOUNT_ADDRESS_LIMIT);
  });

  it("25 failures from A on X refuse A on X only: not B on X, not A on Y", async () => {
    await fail(X, "A", 25);
    const nextTurn = { slotAt: T + MAX_DELAY_MS, waitMs: MAX_DELAY_MS, busy: false };
    expect(await throttleFor(world.db, { email: X, address: "A" }, T)).toEqual({
      delayMs: MAX_DELAY_MS,
      ...nextTurn,
      refused: true,
      accountFailures: 25,
      accountAddressFailures: 25,
      addressFailures: 25,
    });
    expect(await throttleFor(world.db, { email: X, address: "B" }, T)).toEqual({
      delayMs: MAX_DELAY_MS,
      ...nextTurn,
      refused: false,
      accountFailures: 25,
      accountAddressFailures: 0,
      addressFailures: 0,
    });
    expect(await throttleFor(world.db, { email: Y, address: "A" }, T)).toEqual({
      delayMs: 0,
      slotAt: T,
      waitMs: 0,
      busy: false,
      refused: false,
      accountFailures: 0,
      accountAddressFailures: 0,
      addressFailures: 25,
    });
    // And A on X is let back in once its failures age out.
    expect(
      (await throttleFor(world.db, { email: X, address: "A" }, T + THROTTLE_WINDOW_MS)).refused,
    ).toBe(false);
  });

  it("the owner signs in from another address after 25 failures on the account", async () => {
    await fail(ADMIN, "A", 25);
    const locked = await verifyCredentials(world.db, ADMIN, PASSWORD, {
      address: "A",
      sleep: noSleep,
      now: () => T,
    });
    expect(locked).toEqual({ ok: false, reason: "locked" });
    const owner = await verifyCredentials(world.db, ADMIN, PASSWORD, {
      address: "B",
      sleep: noSleep,
      now: () => T,
    });
    expect(owner).toMatchObject({ ok: true });
  });

  it("stops password spraying: 200 failures from one address across accounts refuse it on all", async () => {
    for (let i = 0; i < ADDRESS_LIMIT - 1; i++) await fail(`user${i}@example.test`, "S", 1);
    const fresh = { email: "fresh@example.test", address: "S" };
    expect(await throttleFor(world.db, fresh, T)).toMatchObject({
      refused: false,
      addressFailures: ADDRESS_LIMIT - 1,
    });
    expect((await recordAttempt(world.db, fresh, T)).refused).toBe(false);
    expect(await throttleFor(world.db, fresh, T)).toMatchObject({
      refused: true,
      accountFailures: 1,
      accountAddressFailures: 1,
      addressFailures: ADDRESS_LIMIT,
    });
    expect((await throttleFor(world.db, { email: ADMIN, address: "S" }, T)).refused).toBe(true);
    // Another address is not affected.
    expect((await throttleFor(world.db, { email: ADMIN, address: "B" }, T)).refused).toBe(false);
  });

  it('never refuses the address "unknown": it only slows the account down', async () => {
    await fail(ADMIN, "unknown", 2 * ACCOUNT_ADDRESS_LIMIT);
    for (let i = 0; i < ADDRESS_LIMIT; i++) await fail(`user${i}@example.test`, "unknown", 1);
    expect(await throttleFor(world.db, { email: ADMIN, address: "unknown" }, T)).toEqual({
      delayMs: MAX_DELAY_MS,
      slotAt: T + MAX_DELAY_MS,
      waitMs: MAX_DELAY_MS,
      busy: false,
      refused: false,
      accountFailures: 2 * ACCOUNT_ADDRESS_LIMIT,
      accountAddressFailures: 2 * ACCOUNT_ADDRESS_LIMIT,
      addressFailures: 2 * ACCOUNT_ADDRESS_LIMIT + ADDRESS_LIMIT,
    });
    const { delays, sleep } = recordingSleep();
    // No address given is "unknown", as under `next dev`.
    const owner = await verifyCredentials(world.db, ADMIN, PASSWORD, { sleep, now: () => T });
    expect(owner).toMatchObject({ ok: true });
    expect(delays).toEqual([MAX_DELAY_MS]);
  });
});

describe("taking turns", () => {
  const T = 9_000_000;
  const OTHER = { email: "other@example.test", password: "other-password-1" };
  /** 1 000 failures on the admin's account, recorded together at T from "unknown". */
  const flood = async () => {
    for (let i = 0; i < 1000; i++)
      await recordAttempt(world.db, { email: ADMIN, address: "unknown" }, T);
  };

  it("1 000 concurrent failures on one account take turns spaced by their delays; the rest are refused at once, and recorded", async () => {
    const { delays, sleep } = recordingSleep();
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        verifyCredentials(world.db, ADMIN, `guess-${i}`, { sleep, now: () => T }),
      ),
    );
    expect(await attempts()).toBe(1000);
    // Only the first 14 are checked, one turn after another, none more than MAX_WAIT_MS away.
    expect(delays).toEqual(TURNS);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_WAIT_MS);
    expect(results.filter(invalid)).toHaveLength(TURNS.length);
    const refused = results.slice(TURNS.length);
    expect(refused).toHaveLength(1000 - TURNS.length);
    expect(refused).toEqual(
      Array(refused.length).fill({ ok: false, reason: "locked", retryAfterMs: NEXT_TURN }),
    );
    // The next attempt's turn is 8 s after the last one given out.
    expect(await throttleFor(world.db, { email: ADMIN, address: "unknown" }, T)).toMatchObject({
      slotAt: T + (TURNS.at(-1) ?? 0) + MAX_DELAY_MS,
      busy: true,
      accountFailures: 1000,
    });
  });

  it("the turns of each attempt are what recordAttempt computes, refused ones taking none", async () => {
    const slots: Awaited<ReturnType<typeof recordAttempt>>[] = [];
    for (let i = 0; i < 1000; i++)
      slots.push(await recordAttempt(world.db, { email: ADMIN, address: "unknown" }, T));
    expect(slots.filter((s) => !s.busy).map((s) => s.slotAt - T)).toEqual(TURNS);
    expect(
      slots.slice(TURNS.length).every((s) => s.busy && s.waitMs === NEXT_TURN + MAX_WAIT_MS),
    ).toBe(true);
  });

  it("a flood on one account leaves another account alone", async () => {
    await addUser(world.db, { email: OTHER.email, role: "requester", password: OTHER.password });
    await flood();
    expect(await throttleFor(world.db, { email: OTHER.email, address: "unknown" }, T)).toEqual({
      delayMs: 0,
      slotAt: T,
      waitMs: 0,
      busy: false,
      refused: false,
      accountFailures: 0,
      accountAddressFailures: 0,
      addressFailures: 1000,
    });
    const { delays, sleep } = recordingSleep();
    const other = await verifyCredentials(world.db, OTHER.email, OTHER.password, {
      sleep,
      now: () => T,
    });
    expect(other).toMatchObject({ ok: true });
    expect(delays).toEqual([0]);
  });

  it("after a flood a turn frees up every MAX_DELAY_MS, one guess at a time", async () => {
    await flood();
    const { delays, sleep } = recordingSleep();
    const guess = (ms: number) =>
      verifyCredentials(world.db, ADMIN, "guess", { sleep, now: () => T + ms });
    expect(await guess(NEXT_TURN - 1)).toEqual({ ok: false, reason: "locked", retryAfterMs: 1 });
    // Two at the moment a turn is within reach: one gets it, waiting the whole minute.
    expect(await Promise.all([guess(NEXT_TURN), guess(NEXT_TURN)])).toEqual([
      { ok: false, reason: "invalid" },
      { ok: false, reason: "locked", retryAfterMs: MAX_DELAY_MS },
    ]);
    expect(await guess(NEXT_TURN + MAX_DELAY_MS)).toEqual({ ok: false, reason: "invalid" });
    expect(delays).toEqual([MAX_WAIT_MS, MAX_WAIT_MS]);
  });

  it("the owner, during a flood from the same address, is told when to retry and then waits at most MAX_WAIT_MS", async () => {
    await flood();
    const { delays, sleep } = recordingSleep();
    const owner = (ms: number) =>
      verifyCredentials(world.db, ADMIN, PASSWORD, { sleep, now: () => T + ms });
    const first = await owner(0);
    expect(first).toEqual({ ok: false, reason: "locked", retryAfterMs: NEXT_TURN });
    expect(await owner(NEXT_TURN)).toMatchObject({ ok: true });
    expect(delays).toEqual([MAX_WAIT_MS]);
  });

  it("after the window the turns start again from now", async () => {
    await flood();
    const key = { email: ADMIN, address: "unknown" };
    // Within the window the flood's failures still space the turns, long after its last one…
    expect(await throttleFor(world.db, key, T + THROTTLE_WINDOW_MS - 1)).toMatchObject({
      waitMs: MAX_DELAY_MS,
      busy: false,
      accountFailures: 1000,
    });
    // …and once it has passed since their turns, they are forgotten.
    const later = T + MAX_WAIT_MS + THROTTLE_WINDOW_MS;
    expect(await throttleFor(world.db, key, later)).toMatchObject({
      slotAt: later,
      waitMs: 0,
      busy: false,
      accountFailures: 0,
    });
    expect(await recordAttempt(world.db, key, later)).toMatchObject({ slotAt: later, busy: false });
    expect(await attempts()).toBe(1);
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
    await world.db
      .update(users)
      .set({ passwordHash: bcrypt.hashSync(PASSWORD, 4) })
      .where(eq(users.email, ADMIN));
    const hashOf = async () =>
      (await world.db.select().from(users).where(eq(users.email, ADMIN)).limit(1))[0]
        ?.passwordHash ?? "";
    expect(await hashOf()).toMatch(/^\$2[ab]\$/);
    expect(await verifyCredentials(world.db, ADMIN, "wrong", { sleep: noSleep })).toMatchObject({
      ok: false,
    });
    expect(await hashOf()).toMatch(/^\$2[ab]\$/);
    expect(await verifyCredentials(world.db, ADMIN, PASSWORD, { sleep: noSleep })).toMatchObject({
      ok: true,
    });
    expect(await hashOf()).toMatch(/^\$argon2id\$/);
    expect(await verifyCredentials(world.db, ADMIN, PASSWORD, { sleep: noSleep })).toMatchObject({
      ok: true,
    });
  });

  it("refuses a password over the limit without hashing it, and counts the attempt", async () => {
    const result = await verifyCredentials(world.db, ADMIN, "x".repeat(1025), { sleep: noSleep });
    expect(result).toEqual({ ok: false, reason: "too_long" });
    expect(await attempts()).toBe(1);
  });
});

describe("API tokens", () => {
  it("resolve to their user, are stored only as a hash, and stop working when revoked", async () => {
    const { token, id } = await createToken(world.db, world.admin, "ci");
    expect(await userForToken(world.db, token)).toMatchObject({ email: world.admin.email });
    const stored = await world.db.select().from(apiTokens);
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(await userForToken(world.db, `${token}x`)).toBeUndefined();
    await revokeToken(world.db, id);
    expect(await userForToken(world.db, token)).toBeUndefined();
  });
});
