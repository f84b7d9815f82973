import { describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "@/server/errors";
import { makeWorld } from "@/test-support/fixtures";
import { addUser, countUsers, listUsers } from "./service";

describe("addUser", () => {
  it.each([
    ["an email over 254 characters", `${"a".repeat(2000)}@example.test`, "email", /at most 254/],
    ["an email that is not one", "not an email", "email", /must be an email address/],
    ["an email with a control character", "a\u0000b@example.test", "email", /email address/],
    ["an email with a line break", "a@example.test\nBcc: x", "email", /email address/],
  ])("refuses %s, naming the field, and adds no one", async (_name, email, field, message) => {
    const world = await makeWorld();
    try {
      const before = await countUsers(world.db);
      const err = await addUser(world.db, { email, role: "requester", password: "password-1" })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      const issue = (err as ValidationError).issues.find((i) => i.path === field);
      expect(issue?.message).toMatch(message);
      expect(await countUsers(world.db)).toBe(before);
    } finally {
      await world.cleanup();
    }
  });

  it("accepts a 254-character email and lower-cases it", async () => {
    const world = await makeWorld();
    try {
      const email = `${"A".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(56)}.test`;
      expect(email).toHaveLength(254);
      const { user } = await addUser(world.db, { email, role: "requester" });
      expect(user.email).toBe(email.toLowerCase());
    } finally {
      await world.cleanup();
    }
  });

  it("refuses a password over 1024 characters with the limit in the message", async () => {
    const world = await makeWorld();
    try {
      const before = await countUsers(world.db);
      await expect(
        addUser(world.db, {
          email: "p@example.test",
          role: "requester",
          password: "x".repeat(1025),
        }),
      ).rejects.toThrow("password: must be at most 1024 characters");
      expect(await countUsers(world.db)).toBe(before);
    } finally {
      await world.cleanup();
    }
  });

  it("keeps a name, trimmed, and returns a generated password once", async () => {
    const world = await makeWorld();
    try {
      const added = await addUser(world.db, {
        email: "Ada@Example.test",
        name: "  Ada Lovelace ",
        role: "reviewer",
      });
      expect(added.generated).toBe(true);
      expect(added.password.length).toBeGreaterThanOrEqual(12);
      const row = (await listUsers(world.db)).find((u) => u.email === "ada@example.test");
      expect(row).toMatchObject({ name: "Ada Lovelace", role: "reviewer" });
      const nameless = await addUser(world.db, {
        email: "b@example.test",
        name: " ",
        role: "requester",
      });
      expect((await listUsers(world.db)).find((u) => u.id === nameless.user.id)?.name).toBeNull();
    } finally {
      await world.cleanup();
    }
  });

  it.each([
    ["a name over 120 characters", "n".repeat(121), /at most 120/],
    ["a name with a line break", "Ada\nLovelace", /one line/],
  ])("refuses %s, naming the field", async (_n, name, message) => {
    const world = await makeWorld();
    try {
      const before = await countUsers(world.db);
      const err = await addUser(world.db, { email: "n@example.test", name, role: "requester" })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues.find((i) => i.path === "name")?.message).toMatch(
        message,
      );
      expect(await countUsers(world.db)).toBe(before);
    } finally {
      await world.cleanup();
    }
  });

  it("refuses a taken email (in any case) as a conflict naming the email field", async () => {
    const world = await makeWorld();
    try {
      await addUser(world.db, { email: "dup@example.test", role: "requester" });
      const before = await countUsers(world.db);
      const err = await addUser(world.db, { email: "DUP@example.test", role: "admin" })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as ConflictError).issues).toEqual([
        { path: "email", message: expect.stringMatching(/dup@example\.test exists/) },
      ]);
      expect(await countUsers(world.db)).toBe(before);
    } finally {
      await world.cleanup();
    }
  });

  it("refuses the second of two adds of one email racing past the first check", async () => {
    const world = await makeWorld();
    try {
      const results = await Promise.allSettled([
        addUser(world.db, { email: "race@example.test", role: "requester" }),
        addUser(world.db, { email: "race@example.test", role: "requester" }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(failed.reason).toBeInstanceOf(ConflictError);
    } finally {
      await world.cleanup();
    }
  });
});
