import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Failed sign-ins, kept to slow down password guessing per email address. */
export const loginAttempts = sqliteTable(
  "login_attempts",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    email: text().notNull(),
    at: integer().notNull(),
  },
  (t) => [index("login_attempts_email_at_idx").on(t.email, t.at)],
);
