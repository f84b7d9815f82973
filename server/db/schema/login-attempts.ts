import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Sign-in attempts in the throttle window, by account and by client address. A row is written
 * before the password is checked and removed again when it was right, so every row left is a
 * failure (or a guess still being checked).
 */
export const loginAttempts = sqliteTable(
  "login_attempts",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    email: text().notNull(),
    address: text().notNull().default(""),
    /** For a checked attempt, its turn (guesses on one account take turns); else when made. */
    at: integer().notNull(),
  },
  (t) => [
    index("login_attempts_email_at_idx").on(t.email, t.at),
    index("login_attempts_address_at_idx").on(t.address, t.at),
  ],
);
