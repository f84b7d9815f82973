import type { VerificationState } from "@/schemas/verification-state";
import { defineMachine } from "@/server/state/machine";

/** The move is not in the table below, or the row was not where the caller thought; nothing written. */
export class VerificationMoveConflict extends Error {
  override name = "VerificationMoveConflict";
}

/**
 * A post-merge verification's legal moves, in one place; `moveVerification()` in ./store.ts
 * makes every move through `verificationMachine.move`, which refuses anything else, and writes
 * the `verification.<to>` event with each.
 *
 *   (created) → running        the policy's postMerge checks run on the target branch's tip
 *   running → running          its worker died; another verifier restarts it from the top
 *   running → passed           the tip passed: it is the new good commit
 *   running → flaky            the tip failed, then passed on a re-run of the same commit: nobody is blamed
 *   running → culprit          it failed on every re-run; bisection found the first bad commit
 *                              (and, when that is a queue landing, its revert was queued)
 *   running → failed           it failed on every re-run, but no landing can be blamed (no good
 *                              commit to bisect from, the good end fails too, or the failure hides
 *                              behind an earlier culprit's revert)
 *   running → error            it could not run (the repository, git, the policy)
 */
export const verificationMachine = defineMachine<VerificationState>({
  name: "verification",
  illegal: (message) => new VerificationMoveConflict(message),
  moves: {
    running: ["running", "passed", "flaky", "culprit", "failed", "error"],
    passed: [],
    flaky: [],
    culprit: [],
    failed: [],
    error: [],
  },
});

export const finishedVerificationStates: readonly VerificationState[] = [
  "passed",
  "flaky",
  "culprit",
  "failed",
  "error",
];
