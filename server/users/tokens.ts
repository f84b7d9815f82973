import { createHash, randomBytes } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { apiTokens, users } from "@/server/db/schema";
import type { User } from "./service";

const PREFIX = "hyp_";

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Creates a bearer token; the clear text is returned once and only its hash is stored. */
export function createToken(db: Db, user: User, name: string): { token: string; id: number } {
  const token = PREFIX + randomBytes(24).toString("base64url");
  const row = db
    .insert(apiTokens)
    .values({
      userId: user.id,
      name,
      tokenHash: digest(token),
      prefix: token.slice(0, PREFIX.length + 6),
      createdAt: Date.now(),
    })
    .returning({ id: apiTokens.id })
    .get();
  return { token, id: row.id };
}

export function userForToken(db: Db, token: string): User | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const row = db
    .select({ tokenId: apiTokens.id, id: users.id, email: users.email, role: users.role })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(
      and(
        eq(apiTokens.tokenHash, digest(token)),
        isNull(apiTokens.revokedAt),
        isNull(users.disabledAt),
      ),
    )
    .get();
  if (!row) return undefined;
  db.update(apiTokens).set({ lastUsedAt: Date.now() }).where(eq(apiTokens.id, row.tokenId)).run();
  return { id: row.id, email: row.email, role: row.role };
}

export function listTokens(db: Db) {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      email: users.email,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .all();
}

export function revokeToken(db: Db, id: number): boolean {
  const res = db
    .update(apiTokens)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .run();
  return res.changes > 0;
}
