import { defineConfig } from "drizzle-kit";

// PostgreSQL's migrations, generated from the tables derived from the one SQLite schema
// (server/db/schema/pg.ts): `npm run db:generate` writes both engines' migrations.
export default defineConfig({
  dialect: "postgresql",
  schema: "./server/db/schema/pg-kit.ts",
  out: "./drizzle/pg",
  dbCredentials: { url: process.env.HYPERION_DATABASE_URL ?? "postgres://localhost/hyperion" },
});
