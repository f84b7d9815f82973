import { describe, expect, it } from "vitest";
import { ValidationError } from "@/server/errors";
import { makeWorld } from "@/test-support/fixtures";
import { addUser, countUsers } from "./service";

describe("addUser", () => {
  it.each([
    ["an email over 254 characters", `${"a".repeat(2000)}@example.test`, "email", /at most 254/],
    ["an email that is not one", "not an email", "email", /must be an email address/],
    ["an email with a control character", "a\u0000b@example.test", "email", /email address/],
    ["an email with a line break", "a@example.test\nBcc: x", "email", /email address/],
  ])("refuses %s, naming the field, and adds no one", async (_name, email, field, message) => {
    const world = await makeWorld();
    try {
      const before = countUsers(world.db);
      const err = await addUser(world.db, { email, role: "requester", password: "password-1" })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      const issue = (err as ValidationError).issues.find((i) => i.path === field);
      expect(issue?.message).toMatch(message);
      expect(countUsers(world.db)).toBe(before);
    } finally {
      world.cleanup();
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
      world.cleanup();
    }
  });

  it("refuses a password over 1024 characters with the limit in the message", async () => {
    const world = await makeWorld();
    try {
      const before = countUsers(world.db);
      await expect(
        addUser(world.db, {
          email: "p@example.test",
          role: "requester",
          password: "x".repeat(1025),
        }),
      ).rejects.toThrow("password: must be at most 1024 characters");
      expect(countUsers(world.db)).toBe(before);
    } finally {
      world.cleanup();
    }
  });
});
