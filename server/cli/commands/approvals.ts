import { AgentName, agentNames } from "@/schemas/agents";
import { approveEntry, openDiff, rejectEntry } from "@/server/approvals/service";
import { can } from "@/server/auth/permissions";
import type { User } from "@/server/users/service";
import { listWaiting } from "@/server/views/waiting";
import { cliConfig, cliUser, withCliDb } from "../context";
import { CliError, printTable } from "../io";

function entryId(raw: string): number {
  const m = /^Q?(\d+)$/i.exec(raw);
  if (!m) throw new CliError(`entry id must be a number such as 7 or Q7, not '${raw}'`, 2);
  return Number(m[1]);
}

function reviewer(user: User): User {
  if (!can(user.role, "change.approve"))
    throw new CliError(
      `${user.email} is a ${user.role}; approving needs a reviewer, operator or admin (an admin can change roles)`,
      1,
    );
  return user;
}

/** `hyperion approvals`: what waits for a reviewer, oldest first. */
export function approvalsCommand(opts: { json?: boolean; as?: string }) {
  return withCliDb(async (db, env) => {
    const user = reviewer(await cliUser(db, opts.as));
    const rows = await listWaiting(db, cliConfig(env.configPath), user);
    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    if (!rows.length) {
      console.log("nothing waits for approval");
      return;
    }
    printTable(
      rows.map((r) => ({
        entry: `Q${r.entryId}`,
        risk: r.change.risk,
        approvals: `${r.approvedBy.length}/${r.tier.approvals}`,
        request: r.request ? `R${r.request.id}` : "-",
        task: r.task?.id ?? "-",
        summary: r.change.summary.split("\n")[0] ?? "",
      })),
      ["entry", "risk", "approvals", "request", "task", "summary"],
    );
    console.log(
      "\nRead a change: hyperion diff <entry>; then hyperion approve <entry> --patch <hash>",
    );
  });
}

/** `hyperion diff <entry>`: prints the whole patch and records that it was shown to you. */
export function diffCommand(id: string, opts: { as?: string }) {
  return withCliDb(async (db) => {
    const user = reviewer(await cliUser(db, opts.as));
    const shown = await openDiff(db, entryId(id), user);
    process.stdout.write(shown.patch);
    console.error(
      `\npatch ${shown.patchHash}\nApprove it: hyperion approve Q${shown.entryId} --patch ${shown.patchHash}`,
    );
  });
}

/** `hyperion approve <entry> --patch <sha256> [--comment text]`. */
export function approveCommand(id: string, opts: { patch: string; comment?: string; as?: string }) {
  return withCliDb(async (db, env) => {
    const user = reviewer(await cliUser(db, opts.as));
    if (!/^[0-9a-f]{64}$/.test(opts.patch))
      throw new CliError("--patch must be the patch's sha256 as `hyperion diff` prints it", 2);
    const res = await approveEntry(
      db,
      cliConfig(env.configPath),
      { entryId: entryId(id), patchHash: opts.patch, comment: opts.comment },
      user,
    );
    console.log(
      `Q${res.entryId}\tapproved (${res.approvals}/${res.needed})\t${res.queued ? "queued to land" : "waits for more approvals"}`,
    );
  });
}

/** `hyperion reject <entry> --reason text [--close | --agent name]`. */
export function rejectCommand(
  id: string,
  opts: { reason?: string; close?: boolean; agent?: string; as?: string },
) {
  return withCliDb(async (db, env) => {
    const user = reviewer(await cliUser(db, opts.as));
    let agent: Exclude<AgentName, "builtin"> | undefined;
    if (opts.agent !== undefined) {
      const parsed = AgentName.exclude(["builtin"]).safeParse(opts.agent);
      if (!parsed.success)
        throw new CliError(
          `--agent must be one of ${agentNames.filter((n) => n !== "builtin").join(", ")}`,
          2,
        );
      agent = parsed.data;
    }
    if (agent && opts.close) throw new CliError("--agent and --close cannot go together", 2);
    const res = await rejectEntry(
      db,
      cliConfig(env.configPath),
      {
        entryId: entryId(id),
        reason: opts.reason ?? "",
        next: opts.close ? "close" : "redispatch",
        ...(agent ? { agent } : {}),
      },
      user,
    );
    console.log(
      `Q${res.entryId}\trejected\t${res.next === "close" ? "its task is closed" : res.agent ? `its task goes to the ${res.agent} agent with your reason` : "its task goes back to an agent with your reason"}`,
    );
  });
}
