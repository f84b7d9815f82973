import { fieldIssues } from "@/schemas/issues";
import { parseTaskRequestBatch } from "@/schemas/task-request";
import { repoNames } from "@/server/config/load";
import { createRequests } from "@/server/requests/service";
import { firstAdmin, requireUserByEmail } from "@/server/users/service";
import { cliConfig, cliDb, cliEnv } from "../context";
import { CliError, readJsonInput } from "../io";

/**
 * `hyperion request <file|->`: validate, record, print. Headless: it never talks to the web
 * server, so it works whether or not Hyperion is running.
 */
export async function requestCommand(source: string, opts: { as?: string; json?: boolean }) {
  const env = cliEnv();
  const input = await readJsonInput(source, env.HYPERION_MAX_BODY_BYTES);
  const config = cliConfig(env.configPath);
  // Validate before opening the database, so bad input leaves no trace at all.
  const parsed = parseTaskRequestBatch(input, repoNames(config));
  if (!parsed.success) throw new CliError("invalid request", 1, fieldIssues(parsed.error));

  const db = cliDb(env.dataDir);
  try {
    const email = opts.as ?? process.env.HYPERION_USER;
    const requester = email ? requireUserByEmail(db, email) : firstAdmin(db);
    if (!requester) {
      throw new CliError("no users yet: run 'npm start' once or 'hyperion user add' first", 2);
    }
    const created = createRequests(db, { input, requester, config, source: "cli" });
    if (opts.json) console.log(JSON.stringify(created, null, 2));
    else for (const r of created) console.log(`request ${r.id}\t${r.status}\t${r.title}`);
  } finally {
    db.$client.close();
  }
}
