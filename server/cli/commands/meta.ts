import { randomUUID } from "node:crypto";
import { metaKindLabels, metaStates } from "@/schemas/meta";
import { can } from "@/server/auth/permissions";
import { type Submitted, submitMetaItem } from "@/server/meta/submit";
import type { User } from "@/server/users/service";
import { metaQueue } from "@/server/views/meta";
import { cliConfig, cliUser, withCliDb } from "../context";
import { CliError, printTable, readJsonInput } from "../io";

// `hyperion meta …`: the workspace meta queue from a terminal, through the same service as
// the API (server/meta/submit.ts). Each item carries a source event id: --id, else a new one.

type Common = { id?: string; note?: string; as?: string; json?: boolean };

function metaOperator(user: User): User {
  if (!can(user.role, "meta.operate"))
    throw new CliError(
      `${user.email} is a ${user.role}; the meta queue needs an operator or admin (an admin can change roles)`,
      1,
    );
  return user;
}

function print(res: Submitted, json?: boolean) {
  if (json) {
    console.log(JSON.stringify(res, null, 2));
    return;
  }
  const i = res.item;
  console.log(
    `#${i.id}\t${i.state}\t${i.kind}\t${i.sourceEventId}${res.repeated ? "\t(a repeat of this source event id: nothing done again)" : ""}`,
  );
  if (i.effect) console.log(`  ${i.effect}`);
  if (i.state === "refused") process.exitCode = 1;
}

/** Submits one item as the CLI's user; prints what became of it. */
function submit(opts: Common, item: Record<string, unknown>) {
  return withCliDb(async (db, env) => {
    const user = metaOperator(await cliUser(db, opts.as));
    const input = {
      ...item,
      sourceEventId: opts.id ?? `cli-${randomUUID()}`,
      ...(opts.note !== undefined ? { note: opts.note } : {}),
    };
    print(await submitMetaItem(db, cliConfig(env.configPath), user, input), opts.json);
  });
}

/** `hyperion meta list`: the items, newest first, and the overrides in force. */
export function metaListCommand(opts: { json?: boolean; as?: string; state?: string }) {
  return withCliDb(async (db) => {
    metaOperator(await cliUser(db, opts.as));
    const state = metaStates.find((s) => s === opts.state);
    if (opts.state !== undefined && !state)
      throw new CliError(`--state must be one of ${metaStates.join(", ")}`, 2);
    const queue = await metaQueue(db, { state });
    if (opts.json) {
      console.log(JSON.stringify(queue, null, 2));
      return;
    }
    for (const p of queue.paused)
      console.log(
        `paused: ${p.repo} (meta item #${p.itemId}, ${p.by}${p.note ? `: ${p.note}` : ""})`,
      );
    for (const p of queue.priorities)
      console.log(`priority: ${p.target} ${p.priority} (meta item #${p.itemId})`);
    if (!queue.items.length) {
      console.log("the meta queue is empty");
      return;
    }
    printTable(
      queue.items.map((i) => ({
        "#": String(i.id),
        state: i.state,
        kind: metaKindLabels[i.kind],
        target: [i.repo, i.requestId ? `R${i.requestId}` : ""].filter(Boolean).join(" "),
        by: i.by,
        "source event": i.sourceEventId,
        effect: i.effect ?? "",
      })),
      ["#", "state", "kind", "target", "by", "source event", "effect"],
    );
  });
}

/** `hyperion meta submit <file|->`: an item as the API takes it (JSON). */
export async function metaSubmitCommand(source: string, opts: Common) {
  const item = await readJsonInput(source);
  if (!item || typeof item !== "object" || Array.isArray(item))
    throw new CliError(`${source === "-" ? "stdin" : source}: one item, a JSON object`, 2);
  const { sourceEventId, ...rest } = item as Record<string, unknown>;
  return submit(
    { ...opts, id: opts.id ?? (typeof sourceEventId === "string" ? sourceEventId : undefined) },
    rest,
  );
}

export const metaDependCommand = (request: string, opts: Common & { on: string }) =>
  submit(opts, { kind: "depend", request, on: opts.on });

export const metaPriorityCommand = (
  opts: Common & { request?: string; repo?: string; priority: string },
) =>
  submit(opts, {
    kind: "priority",
    priority: opts.priority,
    ...(opts.request !== undefined ? { request: opts.request } : {}),
    ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
  });

export const metaPauseCommand = (repo: string, opts: Common) =>
  submit(opts, { kind: "pause", repo });
export const metaResumeCommand = (repo: string, opts: Common) =>
  submit(opts, { kind: "resume", repo });
export const metaCancelCommand = (request: string, opts: Common) =>
  submit(opts, { kind: "cancel", request });
export const metaRestartCommand = (request: string, opts: Common) =>
  submit(opts, { kind: "restart", request });

export function metaSteerCommand(run: string, opts: Common & { command: string; message: string }) {
  if (!/^[1-9][0-9]{0,14}$/.test(run))
    throw new CliError(`run id must be a number such as 7, not '${run}'`, 2);
  return submit(opts, {
    kind: "steer",
    run: Number(run),
    command: opts.command,
    message: opts.message,
  });
}
