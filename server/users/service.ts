import { asc, count, eq } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { Role } from "@/schemas/roles";
import type { Db } from "@/server/db/client";
import { users } from "@/server/db/schema";
import { ConflictError, NotFoundError, ValidationError } from "@/server/errors";
import { EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN } from "./limits";
import { generatePassword, hashPassword } from "./passwords";

export type User = { id: number; email: string; role: Role };

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
  if (findUserByEmail(db, email)) throw new ConflictError(`a user with email ${email} exists`);
  const password = parsed.data.password ?? generatePassword();
  const passwordHash = await hashPassword(password);
  const row = db
    .insert(users)
    .values({ email, role, passwordHash, createdAt: Date.now() })
    .returning()
    .get();
  return {
    user: { id: row.id, email: row.email, role: row.role },
    password,
    generated: !parsed.data.password,
  };
}

/** Replaces a user's stored hash, e.g. to move a bcrypt hash to argon2id after a sign-in. */
export function setPasswordHash(db: Db, id: number, passwordHash: string): void {
  db.update(users).set({ passwordHash }).where(eq(users.id, id)).run();
}

export function findUserByEmail(db: Db, email: string) {
  return db.select().from(users).where(eq(users.email, email.toLowerCase())).get();
}

export function getUser(db: Db, id: number): User | undefined {
  const row = db.select().from(users).where(eq(users.id, id)).get();
  return row ? { id: row.id, email: row.email, role: row.role } : undefined;
}

export function requireUserByEmail(db: Db, email: string): User {
  const row = findUserByEmail(db, email);
  if (!row)
    throw new NotFoundError(`no user with email ${email}; add one with 'hyperion user add'`);
  return { id: row.id, email: row.email, role: row.role };
}

export function listUsers(db: Db): (User & { createdAt: number })[] {
  return db
    .select({ id: users.id, email: users.email, role: users.role, createdAt: users.createdAt })
    .from(users)
    .orderBy(asc(users.id))
    .all();
}

export function countUsers(db: Db): number {
  return db.select({ n: count() }).from(users).get()?.n ?? 0;
}

export function firstAdmin(db: Db): User | undefined {
  const row = db.select().from(users).where(eq(users.role, "admin")).orderBy(asc(users.id)).get();
  return row ? { id: row.id, email: row.email, role: row.role } : undefined;
}
