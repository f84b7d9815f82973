import { priorities } from "@/schemas/task-request";
import { can } from "@/server/auth/permissions";
import { checkoutQa, failQa, passQa, prioritizeQa } from "@/server/qa/service";
import type { User } from "@/server/users/service";
import { qaQueue } from "@/server/views/qa";
import { cliConfig, cliUser, withCliDb } from "../context";
import { CliError, printTable } from "../io";

function requestId(raw: string): number {
  const m = /^R?([1-9][0-9]{0,14})$/i.exec(raw);
  if (!m) throw new CliError(`request id must be a number such as 12 or R12, not '${raw}'`, 2);
  return Number(m[1]);
}

function qaPerson(user: User): User {
  if (!can(user.role, "qa.operate"))
    throw new CliError(
      `${user.email} is a ${user.role}; manual QA needs an operator or admin (an admin can change roles)`,
      1,
    );
  return user;
}

/** `hyperion qa`: the QA queue, next first, across repositories. */
export function qaListCommand(opts: { json?: boolean; as?: string }) {
  return withCliDb(async (db, env) => {
    qaPerson(await cliUser(db, opts.as));
    const queue = await qaQueue(db, cliConfig(env.configPath));
    if (opts.json) {
      console.log(JSON.stringify(queue, null, 2));
      return;
    }
    if (!queue.order.length) {
      console.log("nothing waits for QA");
      return;
    }
    printTable(
      queue.order.map((i, n) => ({
        "#": n === 0 ? "next" : String(n + 1),
        request: `R${i.requestId}`,
        repo: i.repo,
        priority: `${i.priority}${i.overridden ? " (set)" : ""}`,
        waiting: `${i.waitingMinutes} min${i.escalated ? " ESCALATED" : ""}`,
        changes: i.entries.map((e) => `Q${e.id}`).join(" "),
        title: i.title,
      })),
      ["#", "request", "repo", "priority", "waiting", "changes", "title"],
    );
    console.log(
      "\nTry one: hyperion qa checkout R<id> [dir]; then hyperion qa pass R<id> or hyperion qa fail R<id> --notes <text>",
    );
  });
}

/** `hyperion qa checkout R12 [dir]`: the candidate written to a folder to try by hand. */
export function qaCheckoutCommand(id: string, dir: string | undefined, opts: { as?: string }) {
  return withCliDb(async (db, env) => {
    qaPerson(await cliUser(db, opts.as));
    const rid = requestId(id);
    const res = await checkoutQa(db, cliConfig(env.configPath), {
      requestId: rid,
      dir: dir ?? `qa-R${rid}`,
    });
    console.log(
      `R${res.requestId}\t${res.dir}\tcandidate ${res.commit.slice(0, 12)} on ${res.repo}/${res.branch} at ${res.tip?.slice(0, 12) ?? "(empty)"}\t${res.entries.map((e) => `Q${e}`).join(" ")}`,
    );
  });
}

/** `hyperion qa pass R12`. */
export function qaPassCommand(id: string, opts: { as?: string }) {
  return withCliDb(async (db) => {
    const user = qaPerson(await cliUser(db, opts.as));
    const res = await passQa(db, { requestId: requestId(id) }, user);
    console.log(
      `R${res.requestId}\tQA passed\t${res.entries.map((e) => `Q${e}`).join(" ")} queued to land`,
    );
  });
}

/** `hyperion qa fail R12 --notes "…"`. */
export function qaFailCommand(id: string, opts: { notes?: string; as?: string }) {
  return withCliDb(async (db, env) => {
    const user = qaPerson(await cliUser(db, opts.as));
    const res = await failQa(
      db,
      cliConfig(env.configPath),
      { requestId: requestId(id), notes: opts.notes ?? "" },
      user,
    );
    console.log(
      `R${res.requestId}\tQA failed\t${res.entries.map((e) => `Q${e}`).join(" ")} rejected; ${
        res.reopened.length
          ? `task${res.reopened.length === 1 ? "" : "s"} ${res.reopened.join(", ")} go back to an agent with your notes`
          : "its task is closed (the built-in developer cannot act on notes)"
      }`,
    );
  });
}

/** `hyperion qa prioritize R12 --priority high`. */
export function qaPrioritizeCommand(id: string, opts: { priority?: string; as?: string }) {
  return withCliDb(async (db) => {
    const user = qaPerson(await cliUser(db, opts.as));
    const priority = priorities.find((p) => p === opts.priority);
    if (!priority) throw new CliError(`--priority must be one of ${priorities.join(", ")}`, 2);
    const res = await prioritizeQa(db, { requestId: requestId(id), priority }, user);
    console.log(`R${res.requestId}\tQA priority ${res.priority}`);
  });
}
