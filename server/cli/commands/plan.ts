import { can } from "@/server/auth/permissions";
import { approvePlan, planDetail } from "@/server/plan/plan";
import { cliConfig, cliUser, withCliDb } from "../context";
import { CliError } from "../io";

/**
 * `hyperion plan <repo>`: the repository's plan gate, why it is shut and what to do, and the
 * diff from the approved text (the whole text when none was approved), with the hash to approve.
 */
export function planCommand(repo: string, opts: { json?: boolean }) {
  return withCliDb(async (db, env) => {
    const config = cliConfig(env.configPath);
    if (!config.repositories.some((r) => r.name === repo))
      throw new CliError(
        `unknown repository '${repo}'; configured: ${config.repositories.map((r) => r.name).join(", ")}`,
        2,
      );
    const detail = await planDetail(db, config, repo).catch((err: unknown) => {
      throw new CliError(err instanceof Error ? err.message : String(err), 1);
    });
    if (opts.json) {
      console.log(JSON.stringify(detail, null, 2));
      return;
    }
    console.log(
      `${repo}: ${detail.file} on ${detail.branch} at ${detail.commit?.slice(0, 12) ?? "-"}`,
    );
    if (detail.state === "open") console.log("plan gate: open (approved); tasks are dispatched");
    else {
      console.log(`plan gate: shut, no task of ${repo} is dispatched`);
      console.log(`  why: ${detail.reason}`);
      console.log(`  to do: ${detail.fix}`);
      for (const p of detail.problems.slice(1)) console.log(`  also: ${p.message}`);
    }
    if (detail.approved)
      console.log(
        `approved by ${detail.approved.approvedByEmail ?? `user ${detail.approved.approvedBy}`} at ${detail.approved.commitId.slice(0, 12)}`,
      );
    if (detail.diff) {
      console.log(
        detail.approved
          ? "\nchanges since the approved text:"
          : "\nthe whole text, never approved:",
      );
      process.stdout.write(detail.diff.endsWith("\n") ? detail.diff : `${detail.diff}\n`);
    }
    if (detail.textHash && (detail.state === "unapproved" || detail.state === "changed"))
      console.log(
        `\nAn admin approves this text: hyperion plan approve ${repo} --text ${detail.textHash}`,
      );
  });
}

/** `hyperion plan approve <repo> [--text <sha256>]`: an admin approves the plan's current text. */
export function planApproveCommand(repo: string, opts: { text?: string; as?: string }) {
  return withCliDb(async (db, env) => {
    const config = cliConfig(env.configPath);
    const user = await cliUser(db, opts.as);
    if (!can(user.role, "plan.approve"))
      throw new CliError(
        `${user.email} is a ${user.role}; only an admin approves a repository's plan`,
        1,
      );
    if (opts.text !== undefined && !/^[0-9a-f]{64}$/.test(opts.text))
      throw new CliError("--text must be the plan's sha256 that `hyperion plan` printed", 2);
    const status = await approvePlan(db, config, repo, user, opts.text);
    console.log(
      `${status.file} of ${repo} approved (${status.textHash?.slice(0, 12)}); its tasks are dispatched again`,
    );
  });
}
