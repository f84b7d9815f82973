import { and, asc, count, eq, isNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { Role } from "@/schemas/roles";
import type { Db } from "@/server/db/client";
import { apiTokens, users } from "@/server/db/schema";
import { isUniqueViolation, stored } from "@/server/db/sql";
import { ConflictError, NotFoundError, ValidationError } from "@/server/errors";
import { EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN } from "./limits";
import { generatePassword, hashPassword } from "./passwords";

export type User = { id: number; email: string; role: Role };

/**
 * A person's name: trimmed, one line, no control characters; empty means none. Optional, so a
 * user added before names existed (or by a script that has none) is still whole.
 */
export const PersonName = z
  .string("must be text")
  .max(NAME_MAX * 4, { message: `must be at most ${NAME_MAX} characters`, abort: true })
  .transform((n) => n.trim())
  .pipe(
    z
      .string()
      .max(NAME_MAX, `must be at most ${NAME_MAX} characters`)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      .regex(/^[^\u0000-\u001f\u007f]*$/, "must be one line without control characters"),
  );

/**
 * A user's email, lower-cased. The length is checked first, and alone, so that an absurd value
 * is refused without running the address pattern over it.
 */
export const Email = z
  .string("must be an email address")
  .max(EMAIL_MAX, { message: `must be at most ${EMAIL_MAX} characters`, abort: true })
  .pipe(z.email("must be an email address"))
  .transform((e) => e.toLowerCase());

export const NewPassword = z
  .string()
  .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`);

const NewUser = z.strictObject({
  email: Email,
  name: PersonName.optional(),
  role: Role,
  password: NewPassword.optional(),
});

/** Adds a user; when no password is given one is generated and returned, once. */
export async function addUser(
  db: Db,
  input: z.input<typeof NewUser>,
): Promise<{ user: User; password: string; generated: boolean }> {
  const parsed = NewUser.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const { email, role } = parsed.data;
  const name = parsed.data.name || null;
  if (await findUserByEmail(db, email)) throw duplicate(email);
  const password = parsed.data.password ?? generatePassword();
  const passwordHash = await hashPassword(password);
  // Hashing yields to the event loop: another add of the same email may have landed meanwhile.
  let row: typeof users.$inferSelect;
  try {
    row = stored(
      await db
        .insert(users)
        .values({ email, name, role, passwordHash, createdAt: Date.now() })
        .returning(),
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicate(email);
    throw err;
  }
  return {
    user: { id: row.id, email: row.email, role: row.role },
    password,
    generated: !parsed.data.password,
  };
}

function duplicate(email: string): ConflictError {
  const message = `a user with email ${email} exists; use another email, or change that user's role instead`;
  return new ConflictError(message, [{ path: "email", message }]);
}

/** Replaces a user's stored hash, e.g. to move a bcrypt hash to argon2id after a sign-in. */
export async function setPasswordHash(db: Db, id: number, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash }).where(eq(users.id, id));
}

export async function findUserByEmail(db: Db, email: string) {
  return (await db.select().from(users).where(eq(users.email, email.toLowerCase())).limit(1))[0];
}

/** An active user by id: a disabled one is no one (its sessions end at once). */
export async function getUser(db: Db, id: number): Promise<User | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row && row.disabledAt === null
    ? { id: row.id, email: row.email, role: row.role }
    : undefined;
}

export async function requireUserByEmail(db: Db, email: string): Promise<User> {
  const row = await findUserByEmail(db, email);
  if (!row)
    throw new NotFoundError(`no user with email ${email}; add one with 'hyperion user add'`);
  return { id: row.id, email: row.email, role: row.role };
}

export async function listUsers(
  db: Db,
): Promise<(User & { name: string | null; createdAt: number; disabledAt: number | null })[]> {
  return await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      createdAt: users.createdAt,
      disabledAt: users.disabledAt,
    })
    .from(users)
    .orderBy(asc(users.id));
}

export async function countUsers(db: Db): Promise<number> {
  return (await db.select({ n: count() }).from(users).limit(1))[0]?.n ?? 0;
}

export async function firstAdmin(db: Db): Promise<User | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.role, "admin"), isNull(users.disabledAt)))
    .orderBy(asc(users.id))
    .limit(1);
  return row ? { id: row.id, email: row.email, role: row.role } : undefined;
}

/** Whether another active admin than this user exists: the last one may not be demoted or disabled. */
async function anotherAdmin(db: Db, id: number): Promise<boolean> {
  return (
    ((
      await db
        .select({ n: count() })
        .from(users)
        .where(and(eq(users.role, "admin"), isNull(users.disabledAt), ne(users.id, id)))
        .limit(1)
    )[0]?.n ?? 0) > 0
  );
}

async function existing(db: Db, email: string) {
  const parsed = Email.safeParse(email);
  if (!parsed.success)
    throw new ValidationError(
      parsed.error.issues.map((i) => ({ path: "email", message: i.message })),
    );
  const row = await findUserByEmail(db, parsed.data);
  if (!row)
    throw new NotFoundError(`no user with email ${parsed.data}; add one with 'hyperion user add'`);
  return row;
}

/** Changes a user's role; it applies to their next page or call (sessions read it each time). */
export async function setRole(db: Db, email: string, role: string): Promise<User> {
  const parsed = Role.safeParse(role);
  if (!parsed.success)
    throw new ValidationError([
      {
        path: "role",
        message: `'${role.slice(0, 40)}' is not a role; one of ${Role.options.join(", ")}`,
      },
    ]);
  const row = await existing(db, email);
  if (row.role === "admin" && parsed.data !== "admin" && !(await anotherAdmin(db, row.id)))
    throw new ConflictError(`${row.email} is the last admin; make another user admin first`);
  await db.update(users).set({ role: parsed.data }).where(eq(users.id, row.id));
  return { id: row.id, email: row.email, role: parsed.data };
}

/** Sets a new password (generated and returned once when none is given); the old one stops working. */
export async function resetPassword(
  db: Db,
  email: string,
  password?: string,
): Promise<{ user: User; password: string; generated: boolean }> {
  const row = await existing(db, email);
  if (password !== undefined) {
    const ok = NewPassword.safeParse(password);
    if (!ok.success)
      throw new ValidationError(
        ok.error.issues.map((i) => ({ path: "password", message: i.message })),
      );
  }
  const next = password ?? generatePassword();
  await setPasswordHash(db, row.id, await hashPassword(next));
  return {
    user: { id: row.id, email: row.email, role: row.role },
    password: next,
    generated: !password,
  };
}

/**
 * Disables a user (no sign-in, their sessions end, their tokens are revoked — in one
 * transaction) or enables them again. The last active admin cannot be disabled.
 */
export async function setDisabled(
  db: Db,
  email: string,
  disabled: boolean,
): Promise<{ user: User; tokensRevoked: number }> {
  const row = await existing(db, email);
  if (disabled && row.role === "admin" && !(await anotherAdmin(db, row.id)))
    throw new ConflictError(`${row.email} is the last admin; make another user admin first`);
  return db.transaction(async (tx) => {
    const now = Date.now();
    await tx
      .update(users)
      .set({ disabledAt: disabled ? (row.disabledAt ?? now) : null })
      .where(eq(users.id, row.id));
    const tokensRevoked = disabled
      ? (
          await tx
            .update(apiTokens)
            .set({ revokedAt: now })
            .where(and(eq(apiTokens.userId, row.id), isNull(apiTokens.revokedAt)))
            .returning({ one: sql`1` })
        ).length
      : 0;
    return { user: { id: row.id, email: row.email, role: row.role }, tokensRevoked };
  });
}
