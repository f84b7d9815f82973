import { describe, expect, it } from "vitest";
import { clusterFacts } from "@/server/db/schema";
import { makeWorld } from "@/test-support/fixtures";
import { agreeOnSessionKey, fingerprint, SessionKeyMismatch } from "./session-key";

describe("the session key every web host shares", () => {
  it("is recorded by the first host, agreed by the next with the same key, and refuses another key with what to do", async () => {
    const world = await makeWorld();
    try {
      expect(await agreeOnSessionKey(world.db, "key-one", "web1")).toBe("recorded");
      expect(await agreeOnSessionKey(world.db, "key-one", "web2")).toBe("agrees");
      const err = await agreeOnSessionKey(world.db, "key-two", "web3").catch((e: Error) => e);
      expect(err).toBeInstanceOf(SessionKeyMismatch);
      expect((err as Error).message).toMatch(
        /not the one web host web1 signs sessions with.*same NEXTAUTH_SECRET on every web host/,
      );
      // Only a fingerprint is stored, never the key.
      const [fact] = await world.db.select().from(clusterFacts);
      expect(fact?.value).toBe(fingerprint("key-one"));
      expect(JSON.stringify(fact)).not.toContain("key-one");
      // Changed on purpose, on every host: recorded again.
      expect(await agreeOnSessionKey(world.db, "key-two", "web3", { replace: true })).toBe(
        "replaced",
      );
      expect(await agreeOnSessionKey(world.db, "key-one", "web1").catch((e) => e)).toBeInstanceOf(
        SessionKeyMismatch,
      );
    } finally {
      await world.cleanup();
    }
  });
});
