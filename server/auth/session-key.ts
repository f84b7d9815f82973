import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { clusterFacts } from "@/server/db/schema";

// Web hosts behind one load balancer must sign sessions with one key: a session made on one
// host would be refused by the next, and people would be signed out at random. The first host
// to start writes the key's fingerprint (never the key) in the database; a host whose key has
// another fingerprint is refused at start, with what to do.

const KEY = "session-key";

export class SessionKeyMismatch extends Error {
  override name = "SessionKeyMismatch";
}

export const fingerprint = (secret: string) =>
  createHash("sha256").update(`hyperion session key\0${secret}`).digest("hex").slice(0, 32);

/**
 * Records this host's session key fingerprint, or checks it against the one recorded;
 * `replace` records it anyway (the key was changed on purpose, on every host).
 */
export async function agreeOnSessionKey(
  db: Db,
  secret: string,
  host: string,
  opts: { replace?: boolean; now?: number } = {},
): Promise<"recorded" | "agrees" | "replaced"> {
  const mine = fingerprint(secret);
  const now = opts.now ?? Date.now();
  return db.transaction(async (tx) => {
    const [fact] = await tx.select().from(clusterFacts).where(eq(clusterFacts.key, KEY)).limit(1);
    if (!fact) {
      await tx.insert(clusterFacts).values({ key: KEY, value: mine, host, updatedAt: now });
      return "recorded";
    }
    if (fact.value === mine) return "agrees";
    if (!opts.replace)
      throw new SessionKeyMismatch(
        `this host's session key (NEXTAUTH_SECRET) is not the one web host ${fact.host} signs sessions with, so a session made on one would be refused by the other: set the same NEXTAUTH_SECRET on every web host, or start with --replace-session-key after changing it on all of them`,
      );
    await tx
      .update(clusterFacts)
      .set({ value: mine, host, updatedAt: now })
      .where(eq(clusterFacts.key, KEY));
    return "replaced";
  });
}
