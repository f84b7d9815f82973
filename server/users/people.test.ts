import { count } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyCredentials } from "@/server/auth/credentials";
import { users } from "@/server/db/schema";
import { ConflictError, NotFoundError, ValidationError } from "@/server/errors";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { findUserByEmail, getUser, resetPassword, setDisabled, setRole } from "./service";
import { createToken, userForToken } from "./tokens";

const noSleep = async () => {};
let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const snapshot = async () => JSON.stringify(await world.db.select().from(users));

describe("people management", () => {
  it("a role change applies to the user's next call", async () => {
    const ana = await world.userWith("requester");
    expect(await setRole(world.db, ana.email, "reviewer")).toMatchObject({ role: "reviewer" });
    expect((await getUser(world.db, ana.id))?.role).toBe("reviewer");
  });

  it("a password reset: the new one signs in, the old one is refused", async () => {
    const ana = await world.userWith("requester");
    const res = await resetPassword(world.db, ana.email);
    expect(res.generated).toBe(true);
    const old = await verifyCredentials(world.db, ana.email, "password-123", { sleep: noSleep });
    expect(old).toMatchObject({ ok: false });
    const fresh = await verifyCredentials(world.db, ana.email, res.password, { sleep: noSleep });
    expect(fresh).toMatchObject({ ok: true });
  });

  it("disabling ends sign-in, sessions and tokens; enabling brings sign-in back", async () => {
    const ana = await world.userWith("operator");
    const { token } = await createToken(world.db, ana, "ci");
    expect((await userForToken(world.db, token))?.id).toBe(ana.id);
    expect(await setDisabled(world.db, ana.email, true)).toMatchObject({ tokensRevoked: 1 });
    expect(await getUser(world.db, ana.id)).toBeUndefined();
    expect(await userForToken(world.db, token)).toBeUndefined();
    expect(
      await verifyCredentials(world.db, ana.email, "password-123", { sleep: noSleep }),
    ).toMatchObject({ ok: false, reason: "invalid" });
    await setDisabled(world.db, ana.email, false);
    expect((await getUser(world.db, ana.id))?.email).toBe(ana.email);
    expect(
      await verifyCredentials(world.db, ana.email, "password-123", { sleep: noSleep }),
    ).toMatchObject({ ok: true });
    // A token revoked by the disabling stays revoked.
    expect(await userForToken(world.db, token)).toBeUndefined();
  });

  it("refuses, writing nothing: an unknown role, the last admin demoted or disabled, an unknown user, a bad password", async () => {
    const before = await snapshot();
    await expect((async () => setRole(world.db, world.admin.email, "overlord"))()).rejects.toThrow(
      /role: 'overlord' is not a role; one of requester, reviewer, operator, admin/,
    );
    await expect((async () => setRole(world.db, world.admin.email, "reviewer"))()).rejects.toThrow(
      ConflictError,
    );
    await expect((async () => setDisabled(world.db, world.admin.email, true))()).rejects.toThrow(
      /is the last admin/,
    );
    await expect(
      (async () => setDisabled(world.db, "nobody@example.test", true))(),
    ).rejects.toThrow(NotFoundError);
    await expect((async () => setRole(world.db, "not an email", "admin"))()).rejects.toThrow(
      ValidationError,
    );
    await expect(resetPassword(world.db, world.admin.email, "short")).rejects.toThrow(
      /password: must be at least/,
    );
    expect(await snapshot()).toBe(before);
    // With a second admin, the first may step down.
    const other = await world.userWith("admin");
    await setRole(world.db, world.admin.email, "operator");
    expect((await findUserByEmail(world.db, world.admin.email))?.role).toBe("operator");
    await expect((async () => setDisabled(world.db, other.email, true))()).rejects.toThrow(
      /is the last admin/,
    );
    expect((await world.db.select({ n: count() }).from(users).limit(1))[0]?.n).toBe(2);
  });
});
