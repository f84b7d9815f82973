import { createHash, randomBytes } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { apiTokens, users } from "@/server/db/schema";
import type { User } from "./service";

const PREFIX = "hyp_";

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Creates a bearer token; the clear text is returned once and only its hash is stored. */
export async function createToken(
  db: Db,
  user: User,
  name: string,
): Promise<{ token: string; id: number }> {
  const token = PREFIX + randomBytes(24).toString("base64url");
  const [row] = await db
    .insert(apiTokens)
    .values({
      userId: user.id,
      name,
      tokenHash: digest(token),
      prefix: token.slice(0, PREFIX.length + 6),
      createdAt: Date.now(),
    })
    .returning({ id: apiTokens.id });
  if (!row) throw new Error("the token was not stored");
  return { token, id: row.id };
}

export async function userForToken(db: Db, token: string): Promise<User | undefined> {
  if (!token.startsWith(PREFIX)) return undefined;
  const [row] = await db
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
    .limit(1);
  if (!row) return undefined;
  await db.update(apiTokens).set({ lastUsedAt: Date.now() }).where(eq(apiTokens.id, row.tokenId));
  return { id: row.id, email: row.email, role: row.role };
}

export async function listTokens(db: Db) {
  return await db
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
    .innerJoin(users, eq(users.id, apiTokens.userId));
}

export async function revokeToken(db: Db, id: number): Promise<boolean> {
  const res = await db
    .update(apiTokens)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning({ one: sql`1` });
  return res.length > 0;
}
