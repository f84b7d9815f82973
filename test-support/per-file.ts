// Run before every file of the "unit" project, which shares one module graph per worker
// (isolate: false, vitest.config.ts): what a file changes in the process is put back when it
// ends, so the next file in the same worker starts as it would in a process of its own.
import { afterAll } from "vitest";
import { selectDialect } from "@/server/db/schema";
import { testEngine } from "./postgres";

const env = { ...process.env };
const cwd = process.cwd();

// The engine is process-wide (server/db/schema/index.ts), and a file before this one may have
// left the other chosen (the several-hosts tests run on PostgreSQL in an SQLite run). Each
// test's database makes its own choice when it opens all the same.
selectDialect(testEngine());

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
  if (process.cwd() !== cwd) process.chdir(cwd);
});
