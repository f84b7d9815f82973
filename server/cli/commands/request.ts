import { eq, inArray } from "drizzle-orm";
import { type FieldIssue, fieldIssues, NEW_FILE } from "@/schemas/issues";
import { parseTaskRequestBatch } from "@/schemas/task-request";
import { repoNames } from "@/server/config/load";
import { closeDb, type Db } from "@/server/db/client";
import { requestSpecs, requests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { answerRequest } from "@/server/requests/answer";
import { cancelRequest } from "@/server/requests/cancel";
import { closeRequest } from "@/server/requests/close";
import { editRequest } from "@/server/requests/edit";
import { fileIntake, readIntake } from "@/server/requests/intake";
import { rerunRequest } from "@/server/requests/rerun";
import { newFileIssues } from "@/server/requests/service";
import { workerStatus } from "@/server/workers/heartbeat";
import { cliConfig, cliDb, cliEnv, cliUser } from "../context";
import { CliError, readJsonInput } from "../io";

const FINISHED = [
  "done",
  "failed",
  "needs_clarification",
  "needs_attention",
  "cancelled",
  "rolled_back",
];

async function report(db: Db, ids: number[]) {
  for (const r of await db.select().from(requests).where(inArray(requests.id, ids))) {
    console.log(`request ${r.id}\t${r.status}\t${r.title}`);
    const [spec] = await db
      .select()
      .from(requestSpecs)
      .where(eq(requestSpecs.requestId, r.id))
      .limit(1);
    for (const q of spec?.questions ?? []) console.log(`  question: ${q}`);
    const suggested = spec?.spec?.suggestedFiles ?? [];
    if (suggested.length)
      console.log(
        `  suggested files (from the description, not in scope): ${suggested.join(", ")}`,
      );
    for (const t of await db.select().from(tasks).where(eq(tasks.requestId, r.id))) {
      const cr = t.changeRequestId ? `\tchange ${t.changeRequestId}` : "";
      const why = t.blockedReason
        ? `\t(${t.blockedReason})`
        : t.noChangeReason
          ? `\t(no change needed: ${t.noChangeReason})`
          : "";
      console.log(
        `  task ${t.id}\t${t.state}\t${t.area}\t${(t.neededFiles ?? []).join(",")}${cr}${why}`,
      );
    }
  }
}

/**
 * `hyperion request <file|->`: validate → record → Engineer → Orchestrator → dispatch → the
 * built-in developer's changes into the merge queue. Headless: it never talks to the web
 * server. With --wait it keeps dispatching until its requests finish or the timeout passes.
 */
export async function requestCommand(
  source: string,
  opts: {
    as?: string;
    json?: boolean;
    wait?: boolean;
    timeout?: string;
    allowNewFiles?: boolean;
  },
) {
  const env = cliEnv();
  const read = await readJsonInput(source, env.HYPERION_MAX_BODY_BYTES);
  const input = opts.allowNewFiles ? allowingNewFiles(read) : read;
  const config = cliConfig(env.configPath);
  // Validate before opening the database, so bad input leaves no trace at all.
  const parsed = parseTaskRequestBatch(input, repoNames(config));
  if (!parsed.success) throw new CliError("invalid request", 1, fieldIssues(parsed.error));
  // Files the target branch lacks are refused before the database is opened, too.
  const intake = await readIntake(config, "cli", input);
  if (intake.newFiles.length)
    throw new CliError("invalid request", 1, newFileIssues(intake.newFiles, input).map(inCliWords));
  const timeoutMs = Number(opts.timeout ?? 120) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new CliError("--timeout must be a number of seconds", 2);

  const db = cliDb(env);
  try {
    const requester = await cliUser(db, opts.as);
    const created = await fileIntake(db, config, intake, requester);
    const ids = created.map((r) => r.id);
    // The requests are filed: from here on nothing may make the command look as if they were
    // not (a script would file them again). Planning is the worker's job too.
    await advance(db, config, `cli:${process.pid}`, ids).catch((err: Error) =>
      console.error(`note: filed; planning goes on in the worker (${err.message})`),
    );
    if (opts.wait)
      await waitFor(db, ids, timeoutMs, () => advance(db, config, `cli:${process.pid}`, ids));
    if (opts.json) console.log(JSON.stringify(created, null, 2));
    else await report(db, ids);
    const statuses = await db
      .select({ status: requests.status })
      .from(requests)
      .where(inArray(requests.id, ids));
    if (opts.wait && statuses.some((s) => s.status === "failed")) process.exitCode = 1;
  } finally {
    await closeDb(db);
  }
}

/** `--allow-new-files`: each request in the file says allowNewFiles (what is not a request stays). */
function allowingNewFiles(input: unknown): unknown {
  const allow = (r: unknown) =>
    r !== null && typeof r === "object" && !Array.isArray(r) ? { ...r, allowNewFiles: true } : r;
  return Array.isArray(input) ? input.map(allow) : allow(input);
}

/** A file the target branch lacks, in the CLI's words: its flag rather than the API's field. */
function inCliWords(issue: FieldIssue): FieldIssue {
  if (issue.code !== NEW_FILE) return issue;
  return {
    ...issue,
    message: issue.message.replace(
      /file the request with allowNewFiles: true/,
      "pass --allow-new-files",
    ),
  };
}

async function waitFor(db: Db, ids: number[], timeoutMs: number, step: () => Promise<unknown>) {
  const deadline = Date.now() + timeoutMs;
  if (!(await workerStatus(db)).alive)
    console.error(
      "note: no worker is running, so nothing will land; start one with 'npx hyperion worker'",
    );
  let last = "";
  for (;;) {
    await step();
    const rows = await db
      .select({ id: requests.id, status: requests.status })
      .from(requests)
      .where(inArray(requests.id, ids));
    const line = rows.map((r) => `${r.id}:${r.status}`).join(" ");
    if (line !== last) console.error(`waiting… ${line}`);
    last = line;
    if (rows.every((r) => FINISHED.includes(r.status))) return;
    if (Date.now() > deadline) {
      throw new CliError(
        `timed out after ${timeoutMs / 1000}s (${line}); see 'hyperion status' and the /queue page`,
        1,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** `hyperion answer <id> --file answers.json`: answers a request's questions and plans it again. */
export async function answerCommand(id: string, opts: { file: string; as?: string }) {
  if (!/^\d+$/.test(id)) throw new CliError("request id must be a number", 2);
  const env = cliEnv();
  const answer = await readJsonInput(opts.file);
  const config = cliConfig(env.configPath);
  const db = cliDb(env);
  try {
    const user = await cliUser(db, opts.as);
    await answerRequest(db, config, Number(id), user, answer);
    await advance(db, config, `cli:${process.pid}`, [Number(id)]);
    await report(db, [Number(id)]);
  } finally {
    await closeDb(db);
  }
}

/**
 * `hyperion edit <id> --file edit.json`: edits a request waiting for clarification, or a failed
 * one, and plans it again.
 */
export async function editCommand(id: string, opts: { file: string; as?: string }) {
  if (!/^R?\d+$/i.test(id)) throw new CliError("request id must be a number such as 12 or R12", 2);
  id = id.replace(/^R/i, "");
  const env = cliEnv();
  const edit = await readJsonInput(opts.file);
  const config = cliConfig(env.configPath);
  const db = cliDb(env);
  try {
    const user = await cliUser(db, opts.as);
    await editRequest(db, config, Number(id), user, edit);
    await advance(db, config, `cli:${process.pid}`, [Number(id)]);
    await report(db, [Number(id)]);
  } finally {
    await closeDb(db);
  }
}

/** `hyperion cancel <id>`: cancels a request that has not finished. */
export async function cancelCommand(id: string, opts: { reason?: string; as?: string }) {
  if (!/^\d+$/.test(id)) throw new CliError("request id must be a number", 2);
  const env = cliEnv();
  const db = cliDb(env);
  try {
    const user = await cliUser(db, opts.as);
    const result = await cancelRequest(db, Number(id), user, opts.reason);
    console.log(
      `request ${result.id}\t${result.status}${result.rejectedEntries.length ? `\t(rejected queue entries ${result.rejectedEntries.join(", ")})` : ""}`,
    );
  } finally {
    await closeDb(db);
  }
}

/** `hyperion rerun <id>`: runs a failed request's failed tasks again. */
export async function rerunCommand(id: string, opts: { as?: string }) {
  if (!/^R?\d+$/i.test(id)) throw new CliError("request id must be a number such as 12 or R12", 2);
  const env = cliEnv();
  const db = cliDb(env);
  try {
    const res = await rerunRequest(db, Number(id.replace(/^R/i, "")), await cliUser(db, opts.as));
    console.log(
      `R${res.id}\tin_progress\ttasks ${res.tasks.join(", ")} run again${res.setAside.length ? `; set aside ${res.setAside.map((e) => `Q${e}`).join(", ")}` : ""}`,
    );
  } finally {
    await closeDb(db);
  }
}

/** `hyperion close <id> --reason "…"`: closes a failed request, saying why. */
export async function closeCommand(id: string, opts: { reason?: string; as?: string }) {
  if (!/^R?\d+$/i.test(id)) throw new CliError("request id must be a number such as 12 or R12", 2);
  if (!opts.reason?.trim())
    throw new CliError("--reason is required: say why you close the request, in a sentence", 2);
  const env = cliEnv();
  const db = cliDb(env);
  try {
    const res = await closeRequest(
      db,
      Number(id.replace(/^R/i, "")),
      await cliUser(db, opts.as),
      opts.reason,
    );
    console.log(
      `R${res.id}\tclosed\t${res.reason}${res.setAside.length ? `\t(set aside ${res.setAside.map((e) => `Q${e}`).join(", ")})` : ""}`,
    );
  } finally {
    await closeDb(db);
  }
}
