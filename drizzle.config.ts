import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./server/db/schema/index.ts",
  out: "./drizzle",
  dbCredentials: { url: process.env.HYPERION_DB ?? "./data/hyperion.db" },
});
