import { dbFile, isPostgresUrl } from "@/server/db/client";
import { CopyError, copyToPostgres } from "@/server/db/copy";
import { databaseProblem, SchemaVersionError, shownTarget } from "@/server/db/version";
import { cliEnv } from "../env";
import { CliError } from "../io";

/**
 * `hyperion migrate-to-postgres <url>`: copies this install's SQLite database into an empty
 * PostgreSQL database and checks the copy. Stop the web server and the worker first: the copy
 * is of the file as it is when it starts.
 */
export async function migrateToPostgresCommand(url: string, opts: { from?: string }) {
  const env = cliEnv();
  if (!isPostgresUrl(url))
    throw new CliError(`<url> must be a postgres:// URL (got ${shownTarget(url)})`, 2);
  const file = opts.from ?? dbFile(env.dataDir);
  console.log(`copying ${file} into ${shownTarget(url)} …`);
  try {
    const report = await copyToPostgres(file, url, (t) =>
      console.log(`  ${t.table}: ${t.rows} row${t.rows === 1 ? "" : "s"}, checked`),
    );
    console.log(
      `copied and checked ${report.rows} rows in ${report.tables.length} tables. Now set HYPERION_DATABASE_URL on every host and start them (docs/deploy.md).`,
    );
  } catch (err) {
    if (err instanceof CopyError) throw new CliError(err.message, 1);
    if (err instanceof SchemaVersionError || (err as { code?: string }).code)
      throw new CliError(databaseProblem(url, err as Error), 1);
    throw err;
  }
}
