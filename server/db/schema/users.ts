import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Role } from "@/schemas/roles";

export const users = sqliteTable("users", {
  id: integer().primaryKey({ autoIncrement: true }),
  email: text().notNull().unique(),
  /** What the person is called, as an admin typed it; optional (older users have none). */
  name: text(),
  role: text().$type<Role>().notNull(),
  passwordHash: text("password_hash").notNull(),
  createdAt: integer("created_at").notNull(),
  /** Set while the user is disabled: no sign-in, no session, no token. */
  disabledAt: integer("disabled_at"),
});
