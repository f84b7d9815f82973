import { splitCommandLine } from "@/schemas/command-line";
import type { Policy } from "@/schemas/policy";
import { describeSandbox, detectSandbox } from "@/server/confine/detect";
import { makeRunDir, removeRunDir, runConfined } from "@/server/confine/run";
import { exportCommit } from "@/server/git/export";
import { log } from "@/server/log";

/** A check as it runs: the policy's name for it and the arguments its command line splits into. */
export type Check = { name: string; argv: string[]; timeoutMs?: number; network: boolean };

/**
 * Every check a policy defines: the named ones in `checks`, and each command line written
 * directly in `validation`, named by its own text.
 */
export function policyChecks(policy: Policy): Map<string, Check> {
  const out = new Map<string, Check>();
  const add = (name: string, line: string, timeoutMs?: number, network = false) => {
    const split = splitCommandLine(line);
    if ("argv" in split) out.set(name, { name, argv: split.argv, timeoutMs, network });
  };
  for (const [name, def] of Object.entries(policy.checks)) {
    if (typeof def === "string") add(name, def);
    else add(name, def.run, def.timeoutMs, def.network);
  }
  const v = policy.validation;
  for (const line of [
    ...v.lint,
    ...v.test,
    ...Object.values(v.byArea).flatMap((a) => [...a.lint, ...a.test]),
  ]) {
    if (!out.has(line) && !policy.checks[line]) add(line, line);
  }
  return out;
}

/**
 * The policy's name for what a request or a change request names: a check's name, or the exact
 * command line the policy gives it. Anything else is not a check (for a request, it is prose
 * for the developer; for a change request, an error).
 */
export function resolveCheck(policy: Policy, ref: string): string | undefined {
  const checks = policyChecks(policy);
  const wanted = ref.trim();
  if (checks.has(wanted)) return wanted;
  for (const [name, def] of Object.entries(policy.checks)) {
    if ((typeof def === "string" ? def : def.run).trim() === wanted) return name;
  }
  return undefined;
}

/**
 * What is wrong with the check names a request asks for: each must be a check the repository's
 * policy names in `checks` (those run; a command line typed into a request never does). One
 * issue per bad name, at `<prefix>checks[i]`, naming the checks there are.
 */
export function requestedCheckIssues(
  policy: Policy | undefined,
  repo: string,
  names: readonly string[],
  prefix = "",
): { path: string; message: string }[] {
  const known = policy ? Object.keys(policy.checks) : [];
  return names.flatMap((name, i) =>
    known.includes(name)
      ? []
      : [
          {
            path: `${prefix}checks[${i}]`,
            message: known.length
              ? `'${name.slice(0, 100)}' is not a check of repository '${repo}'; its checks: ${known.join(", ")}`
              : `repository '${repo}' names no checks in its policy, so none can be asked for`,
          },
        ],
  );
}

/** Each area's own checks where the policy sets them (even none), else the repository's. */
export function areaChecks(policy: Policy, areas: string[]): string[] {
  const repoWide = [...policy.validation.lint, ...policy.validation.test];
  const all = areas.flatMap((a) => {
    const own = policy.validation.byArea[a];
    return own ? [...own.lint, ...own.test] : repoWide;
  });
  return [...new Set(areas.length ? all : repoWide)];
}

/**
 * The checks a task's change must pass: its areas' checks, plus the policy checks its request
 * asked for (`checks`) or its acceptance names. A request can add the policy's checks; it cannot
 * remove or invent any.
 */
export function checksForWork(
  policy: Policy,
  areas: string[],
  acceptance: string[],
  /** The policy checks the request asked for by name (TaskRequest.checks). */
  requested: readonly string[] = [],
): string[] {
  const named = [...acceptance, ...requested]
    .map((a) => resolveCheck(policy, a))
    .filter((n): n is string => !!n);
  return [...new Set([...areaChecks(policy, areas), ...named])];
}

/** One check as it ran: its outcome and how long it took (for the record and for estimates). */
export type CheckRan = {
  check: string;
  outcome: "passed" | "failed" | "timed_out";
  durationMs: number;
  outputTail?: string;
};

export type CheckResult =
  | { ok: true; ran: CheckRan[] }
  | {
      ok: false;
      ran: CheckRan[];
      check: string;
      timedOut: boolean;
      outputTail: string;
      /** What the person reading it should do next. */
      reason: string;
    };

export const CHECK_OUTPUT_TAIL = 4000;

/**
 * Runs named checks on a candidate commit, each confined (server/confine) in a fresh copy of
 * the commit's files: a scrubbed environment, its own home, bounded time and output, and under
 * bubblewrap a read-only machine with only that copy writable. Names are looked up in the
 * policy in force now; one it no longer defines fails the change rather than run anything else.
 */
export async function runChecks(opts: {
  gitDir: string;
  commit: string;
  policy: Policy;
  checks: string[];
  timeoutMs: number;
}): Promise<CheckResult> {
  const defined = policyChecks(opts.policy);
  const ran: CheckRan[] = [];
  for (const name of opts.checks) {
    if (!defined.has(name))
      return {
        ok: false,
        ran,
        check: name,
        timedOut: false,
        outputTail: "",
        reason: `check '${name}' is not defined in the repository's policy any more; ask an admin to define it, or retry to run the checks it defines now`,
      };
  }
  for (const name of opts.checks) {
    const check = defined.get(name) as Check;
    const dir = makeRunDir("hyperion-check-");
    const started = Date.now();
    try {
      await exportCommit(opts.gitDir, opts.commit, dir.work, dir.tmp);
      const res = await runConfined({
        argv: check.argv,
        dir,
        timeoutMs: check.timeoutMs ?? opts.timeoutMs,
        network: check.network,
        env: { HYPERION_CHECK: "1" },
        limits: opts.policy.runLimits,
      });
      if (res.sandbox === "none" && !res.spawnError)
        log.warn({ check: name, commit: opts.commit }, describeSandbox(detectSandbox()));
      if (res.exitCode !== 0 || res.timedOut || res.outputTooLarge || res.limitExceeded) {
        const why = res.spawnError
          ? `could not start: ${res.spawnError}`
          : res.limitExceeded
            ? `${res.limitExceeded}; it was stopped`
            : res.timedOut
              ? `timed out after ${check.timeoutMs ?? opts.timeoutMs} ms`
              : res.outputTooLarge
                ? `printed more than its output limit (${res.outputBytes} bytes)`
                : res.signal
                  ? `was stopped by ${res.signal}`
                  : `exited with ${res.exitCode}`;
        const outputTail =
          (res.sandbox === "none" && !res.spawnError
            ? "[hyperion] this check ran without bubblewrap\n"
            : "") + res.output.slice(-CHECK_OUTPUT_TAIL);
        ran.push({
          check: name,
          outcome: res.timedOut ? "timed_out" : "failed",
          durationMs: Date.now() - started,
          outputTail,
        });
        return {
          ok: false,
          ran,
          check: name,
          timedOut: res.timedOut,
          outputTail,
          reason: `check '${name}' ${why}`,
        };
      }
      ran.push({ check: name, outcome: "passed", durationMs: Date.now() - started });
    } finally {
      removeRunDir(dir);
    }
  }
  return { ok: true, ran };
}
