import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { VerificationMoveConflict, type VerificationRow } from "../state/verify/store";
import { blameCulprit } from "./blame";
import {
  type Carrying,
  carrying,
  failureText,
  Stopped,
  short,
  type VerifierOptions,
  type VerifyOutcome,
} from "./carrying";
import { findCulprit } from "./culprit";

/**
 * Carries a verification out to its end: the checks on the tip, re-runs of a failure (a pass
 * on any is flaky), and a failure that reproduces bisected to its culprit and blamed. A
 * verifier that stops, or loses the verification to another, leaves it to the next verifier.
 */
export async function carryOut(
  db: Db,
  config: LoadedConfig,
  repo: { gitDir: string; path: string },
  row: VerificationRow,
  opts: VerifierOptions,
): Promise<VerifyOutcome> {
  const carry = carrying(db, config, repo.gitDir, row, opts);
  if (!carry.hasPostMerge)
    return carry.finish("error", `the policy of '${row.repo}' has no postMerge checks now`);
  try {
    return await verifyHead(carry);
  } catch (err) {
    if (err instanceof Stopped || err instanceof VerificationMoveConflict) {
      log.info(
        { verification: row.id, repo: row.repo, branch: row.targetBranch, reason: err.message },
        "post-merge verification left to the next verifier",
      );
      return { kind: "stopped", verification: row, reason: err.message };
    }
    const message = (err as Error).message;
    try {
      return carry.finish("error", `post-merge verification could not run: ${message}`, {
        output: message,
      });
    } catch (inner) {
      if (inner instanceof VerificationMoveConflict)
        return { kind: "stopped", verification: row, reason: inner.message };
      throw inner;
    }
  }
}

/**
 * The checks on the tip: passed; or failed, then passed on a re-run (flaky); or failed on every
 * run, and then the culprit is looked for since the last green commit, and blamed.
 */
async function verifyHead(carry: Carrying): Promise<VerifyOutcome> {
  const { row, names, probe, finish } = carry;
  const head = row.headCommit;
  const first = await probe(head, "the tip");
  if (first.ok) return finish("passed", `post-merge checks (${names}) passed on ${short(head)}`);
  for (let i = 1; i <= carry.reruns; i++) {
    const again = await probe(head, `re-run ${i} of the tip`);
    if (again.ok)
      return finish(
        "flaky",
        `post-merge checks (${names}) failed on ${short(head)}, then passed on re-run ${i} of the same commit: flaky, nobody is blamed (${first.ok ? "" : first.reason})`,
        { output: failureText(first) },
      );
  }
  if (!row.goodCommit)
    return finish(
      "failed",
      `post-merge checks (${names}) fail on ${short(head)} on every run, and there is no earlier green commit to bisect from: fix the branch, then verify again`,
      { output: failureText(first) },
    );
  const found = await findCulprit(carry, row.goodCommit, first);
  if ("outcome" in found) return found.outcome;
  return blameCulprit(carry, found);
}
