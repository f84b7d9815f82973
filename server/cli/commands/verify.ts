import { can } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import { type VerificationRow, verificationEvents } from "@/server/state/verify/store";
import type { User } from "@/server/users/service";
import type { VerifyOutcome } from "@/server/verify/carrying";
import { recentVerifications } from "@/server/verify/list";
import { verifiableTargets } from "@/server/verify/targets";
import { cliVerifier } from "@/server/verify/verifier";
import { verifyTarget } from "@/server/verify/verify";
import { cliConfig, cliUser, withCliDb } from "../context";
import { CliError, printTable } from "../io";

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : "-");

function allowed(user: User, permission: "queue.operate" | "queue.read", what: string): User {
  if (!can(user.role, permission))
    throw new CliError(
      `${user.email} is a ${user.role}; ${what} needs ${permission === "queue.operate" ? "an operator or admin" : "a reviewer, operator or admin"}`,
      1,
    );
  return user;
}

/** The outcome in words, as its last event told operators. */
async function reasonOf(db: Db, v: VerificationRow): Promise<string> {
  const [last] = (await verificationEvents(db, v.id)).filter((e) => e.type !== "verification.step");
  return String((last?.payload as { reason?: unknown } | undefined)?.reason ?? "");
}

async function printOutcome(db: Db, o: VerifyOutcome): Promise<void> {
  if (o.kind === "skipped") {
    console.log(`${o.target.repo}/${o.target.branch}\tskipped\t${o.reason}`);
    return;
  }
  const v = o.verification;
  const where = `V${v.id}\t${v.repo}/${v.targetBranch}`;
  if (o.kind === "busy") {
    console.log(
      `${where}\trunning (by ${o.owner ?? "another verifier"})\tsee its outcome with hyperion verifications`,
    );
    return;
  }
  if (o.kind === "stopped") {
    console.log(`${where}\tleft running\t${o.reason}`);
    return;
  }
  console.log(
    `${where}\t${v.state}\ttip ${short(v.headCommit)}, good ${short(v.goodCommit)}, ${v.steps.length} check run${v.steps.length === 1 ? "" : "s"}`,
  );
  const reason = await reasonOf(db, v);
  if (reason) console.log(`  ${reason}`);
  for (const s of v.steps)
    console.log(`  ${s.ok ? "pass" : "FAIL"}  ${short(s.commit)}  ${s.note ?? ""}`.trimEnd());
  if (v.state !== "passed" && v.output) {
    console.log("  output:");
    for (const line of v.output.split("\n").slice(-20)) console.log(`    ${line}`);
  }
}

/**
 * `hyperion verify [--repo r]`: runs the post-merge checks of each repository whose policy has
 * them (or of one) now, on the target branch's tip, as the worker does after landings, and
 * prints the outcome. Exit 1 when a verification failed, found a culprit, could not run or was
 * running elsewhere.
 */
export function verifyCommand(opts: { repo?: string; json?: boolean; as?: string }) {
  return withCliDb(async (db, env) => {
    allowed(await cliUser(db, opts.as), "queue.operate", "running a post-merge verification");
    const config = cliConfig(env.configPath);
    if (opts.repo && !config.repositories.some((r) => r.name === opts.repo))
      throw new CliError(
        `unknown repository '${opts.repo}'; configured: ${config.repositories.map((r) => r.name).join(", ")}`,
        2,
      );
    const targets = await verifiableTargets(db, config, opts.repo);
    if (targets.length === 0)
      throw new CliError(
        `${opts.repo ? `the policy of '${opts.repo}' names` : "no repository's policy names"} no post-merge checks: add "postMerge": { "checks": ["<a check of its policy>"] } to it`,
        2,
      );
    const outcomes: VerifyOutcome[] = [];
    for (const t of targets)
      outcomes.push(
        await verifyTarget(db, config, t, {
          owner: cliVerifier(),
          timeoutMs: env.HYPERION_CHECK_TIMEOUT_MS,
        }),
      );
    if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
    else for (const o of outcomes) await printOutcome(db, o);
    const bad = outcomes.some(
      (o) =>
        o.kind === "busy" ||
        o.kind === "stopped" ||
        (o.kind === "done" && ["culprit", "failed", "error"].includes(o.verification.state)),
    );
    if (bad) process.exitCode = 1;
  });
}

/** `hyperion verifications [--repo r] [--limit n]`: the latest post-merge verifications. */
export function verificationsCommand(opts: {
  repo?: string;
  limit?: string;
  json?: boolean;
  as?: string;
}) {
  return withCliDb(async (db) => {
    allowed(await cliUser(db, opts.as), "queue.read", "reading verifications");
    const limit = opts.limit === undefined ? 20 : Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new CliError(`--limit must be a whole number from 1 to 1000, not '${opts.limit}'`, 2);
    const rows = await recentVerifications(db, { repo: opts.repo, limit });
    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    if (!rows.length) {
      console.log("no post-merge verifications yet");
      return;
    }
    printTable(
      rows.map((v) => ({
        id: `V${v.id}`,
        target: `${v.repo}/${v.targetBranch}`,
        state: v.state,
        tip: short(v.headCommit),
        good: short(v.goodCommit),
        runs: v.steps.length,
        culprit: v.culpritCommit
          ? `${short(v.culpritCommit)}${v.culpritEntryId ? ` (Q${v.culpritEntryId})` : ""}`
          : "-",
        revert: v.revertEntryId ? `Q${v.revertEntryId}` : "-",
        started: new Date(v.createdAt).toISOString(),
      })),
      ["id", "target", "state", "tip", "good", "runs", "culprit", "revert", "started"],
    );
  });
}
