import { type CheckResult, runChecks } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db, DbLike } from "@/server/db/client";
import { log } from "@/server/log";
import { moveVerification, recordStep, type VerificationRow } from "../state/verify/store";
import type { Target } from "./targets";

export type VerifierOptions = {
  /** Who runs it: `worker-…/verify` for the worker, `cli:<host>:<pid>` for the CLI. */
  owner: string;
  /** For each check run, unless the check sets its own (HYPERION_CHECK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Asked before each check run: a verifier that stops leaves its verification running, for the next verifier to restart. */
  shouldStop?: () => boolean;
};

export type VerifyOutcome =
  | { kind: "done"; verification: VerificationRow }
  /** Another live verifier runs this target's verification now. */
  | { kind: "busy"; verification: VerificationRow; owner: string | null }
  /** Stopped between check runs (the worker stopping), or taken over by another verifier. */
  | { kind: "stopped"; verification: VerificationRow; reason: string }
  | { kind: "skipped"; target: Target; reason: string };

/** The verifier is stopping: the verification is left running, for the next verifier. */
export class Stopped extends Error {}

export type Ending = "passed" | "flaky" | "culprit" | "failed" | "error";
type EndingFields = Parameters<typeof moveVerification>[1]["set"];

/**
 * A verification being carried out, with what its steps share: how a commit is checked (each
 * run recorded as a step) and how the verification ends (moved, and logged).
 */
export type Carrying = {
  db: Db;
  config: LoadedConfig;
  row: VerificationRow;
  opts: VerifierOptions;
  /** The repository's git dir. */
  gitDir: string;
  /** The postMerge checks' names, for the reasons. */
  names: string;
  /** Re-runs of a failure on the tip before it is taken as real (postMerge.reruns). */
  reruns: number;
  /** Runs the postMerge checks on a commit and records the run as a step. */
  probe(commit: string, note: string): Promise<CheckResult>;
  /** Ends the verification (and runs `within` in its move's transaction). */
  finish(
    to: Ending,
    reason: string,
    set?: EndingFields,
    within?: (tx: DbLike, moved: VerificationRow) => Promise<void> | void,
  ): Promise<VerifyOutcome>;
  /** Logs how a verification ended. */
  tell(to: Ending, reason: string, v: VerificationRow): void;
};

export const failureText = (r: CheckResult) =>
  r.ok ? "" : `${r.reason}${r.outputTail ? `\n${r.outputTail}` : ""}`;
export const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : "-");

/**
 * A verification's shared means. `hasPostMerge` is false when its repository's policy has no
 * postMerge now: the verification then only ends (with an error), nothing is probed.
 */
export function carrying(
  db: Db,
  config: LoadedConfig,
  gitDir: string,
  row: VerificationRow,
  opts: VerifierOptions,
): Carrying & { hasPostMerge: boolean } {
  const policy = policyFor(config, row.repo);
  const checks = policy.postMerge?.checks ?? [];
  const id = row.id;
  const where = { verification: id, repo: row.repo, branch: row.targetBranch };
  const tell: Carrying["tell"] = (to, reason, v) => {
    const fields = {
      ...where,
      state: to,
      head: v.headCommit,
      ...(v.culpritCommit ? { culpritCommit: v.culpritCommit } : {}),
      ...(v.culpritEntryId ? { culpritEntry: v.culpritEntryId } : {}),
      ...(v.revertEntryId ? { revertEntry: v.revertEntryId } : {}),
    };
    if (to === "passed") log.info(fields, reason);
    else if (to === "error") log.error(fields, reason);
    else log.warn(fields, reason);
  };
  const finish: Carrying["finish"] = async (to, reason, set = {}, within) => {
    const moved = await db.transaction(async (tx) => {
      const v = await moveVerification(tx, {
        id,
        from: "running",
        to,
        owner: opts.owner,
        set,
        note: { reason },
      });
      await within?.(tx, v);
      return v;
    });
    tell(to, reason, moved);
    return { kind: "done", verification: moved };
  };
  const probe = async (commit: string, note: string): Promise<CheckResult> => {
    if (opts.shouldStop?.()) throw new Stopped("the verifier is stopping");
    const result = await runChecks({ gitDir, commit, policy, checks, timeoutMs: opts.timeoutMs });
    await db.transaction(async (tx) =>
      recordStep(tx, { id, owner: opts.owner, step: { commit, ok: result.ok, note } }),
    );
    return result;
  };
  return {
    db,
    config,
    row,
    opts,
    gitDir,
    names: checks.join(", "),
    reruns: policy.postMerge?.reruns ?? 0,
    probe,
    finish,
    tell,
    hasPostMerge: !!policy.postMerge,
  };
}
