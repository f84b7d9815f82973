import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokens } from "@/server/db/schema";
import { makeWorld, type TestWorld } from "@/server/testing/fixtures";
import { createToken, revokeToken, userForToken } from "@/server/users/tokens";
import { verifyCredentials } from "./credentials";
import { LOCKOUT_FAILURES, throttleFor } from "./throttle";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const noSleep = async () => {};

describe("sign-in", () => {
  it("accepts the right password and refuses a wrong one", async () => {
    const ok = await verifyCredentials(world.db, "ADMIN@hyperion.local", "admin-password-1", {
      sleep: noSleep,
    });
    expect(ok).toMatchObject({ ok: true, user: { email: "admin@hyperion.local", role: "admin" } });
    const bad = await verifyCredentials(world.db, "admin@hyperion.local", "wrong", {
      sleep: noSleep,
    });
    expect(bad).toEqual({ ok: false, reason: "invalid" });
    const unknown = await verifyCredentials(world.db, "nobody@example.test", "x", {
      sleep: noSleep,
    });
    expect(unknown).toEqual({ ok: false, reason: "invalid" });
  });

  it("slows down repeated failures, then locks the email out", async () => {
    const delays: number[] = [];
    const record = async (ms: number) => {
      delays.push(ms);
    };
    for (let i = 0; i < LOCKOUT_FAILURES; i++) {
      await verifyCredentials(world.db, "admin@hyperion.local", "wrong", { sleep: record });
    }
    expect(delays.slice(0, 3)).toEqual([0, 0, 0]);
    expect(delays[3]).toBeGreaterThan(0);
    expect(delays[6]).toBeGreaterThan(delays[4] ?? 0);
    expect(throttleFor(world.db, "admin@hyperion.local").locked).toBe(true);
    const locked = await verifyCredentials(world.db, "admin@hyperion.local", "admin-password-1", {
      sleep: record,
    });
    expect(locked).toEqual({ ok: false, reason: "locked" });
  });

  it("a success clears earlier failures", async () => {
    for (let i = 0; i < 5; i++)
      await verifyCredentials(world.db, "admin@hyperion.local", "x", { sleep: noSleep });
    await verifyCredentials(world.db, "admin@hyperion.local", "admin-password-1", {
      sleep: noSleep,
    });
    expect(throttleFor(world.db, "admin@hyperion.local").failures).toBe(0);
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
