import { randomUUID } from "node:crypto";
import { can } from "@/server/auth/permissions";
import { AgentPool } from "@/server/runs/pool";
import { steerRun } from "@/server/runs/steers";
import { listRuns } from "@/server/views/runs";
import { cliConfig, cliUser, withCliDb } from "../context";
import { CliError, printTable } from "../io";

/** `hyperion agents`: each agent the policies name, whether it can take a task, and the fix. */
export async function agentsCommand(opts: { json?: boolean }) {
  return withCliDb(async (db, env) => {
    const config = cliConfig(env.configPath);
    const pool = new AgentPool({ db, dataDir: env.dataDir, owner: "cli", leaseMs: 60_000 });
    const probes = await pool.probeAll(config);
    if (opts.json) {
      console.log(JSON.stringify(Object.fromEntries(probes), null, 2));
      return;
    }
    if (probes.size === 0) {
      console.log("No repository names an agent: every task goes to the built-in developer.");
      console.log(
        "Set agents.default in a repository's policy, or HYPERION_AGENT (docs/agents.md).",
      );
      return;
    }
    printTable(
      [...probes].map(([key, p]) =>
        p.ok
          ? { agent: key, ready: "yes", detail: p.version, fix: "" }
          : { agent: key, ready: "no", detail: p.problem, fix: p.fix },
      ),
      ["agent", "ready", "detail", "fix"],
    );
    if ([...probes.values()].some((p) => !p.ok)) process.exitCode = 1;
  });
}

/** `hyperion runs`: agent runs, newest first. */
export async function runsCommand(opts: { state?: string; agent?: string; json?: boolean }) {
  return withCliDb(async (db) => {
    const rows = await listRuns(db, {
      ...(opts.state ? { state: opts.state } : {}),
      ...(opts.agent ? { agent: opts.agent } : {}),
    });
    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    printTable(
      rows.map((r) => ({
        run: r.id,
        task: r.taskId,
        agent: r.agent,
        state: r.state,
        turns: r.turns,
        tokens: `${r.inputTokens}/${r.outputTokens}`,
        change: r.changeRequestId ? `#${r.changeRequestId}` : "",
        reason: r.reason ?? "",
      })),
      ["run", "task", "agent", "state", "turns", "tokens", "change", "reason"],
    );
  });
}

/** `hyperion steer <run> <command> --reason …`: steers a live run (operators). */
export async function steerCommand(
  run: string,
  command: string,
  opts: { reason?: string; event?: string; as?: string },
) {
  if (!/^\d+$/.test(run)) throw new CliError(`run id must be a number, not '${run}'`, 2);
  return withCliDb(async (db) => {
    const user = await cliUser(db, opts.as);
    if (!can(user.role, "queue.operate"))
      throw new CliError(`${user.email} is a ${user.role}; steering needs an operator or admin`, 1);
    const res = await steerRun(db, Number(run), user, {
      command,
      reason: opts.reason ?? "",
      sourceEventId: opts.event ?? `cli-${randomUUID()}`,
    });
    console.log(
      `run ${run}\t${res.steer?.command}\t${res.repeated ? "already recorded (same event id)" : "recorded; the worker applies it within a second"}`,
    );
  });
}
