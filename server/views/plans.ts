import { can } from "@/server/auth/permissions";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { planDetail, planStatus } from "@/server/plan/plan";
import type { User } from "@/server/users/service";

/** A repository held by its plan gate, as every page's notice shows it. */
export type ShutPlanGate = { repo: string; file: string; reason: string; fix: string };

/**
 * The repositories (all, or `repos`) whose plan gate is shut: why, and what to do. A plan that
 * cannot be read at all is shut too, with that reason.
 */
export async function shutPlanGates(
  db: Db,
  config: LoadedConfig,
  repos?: readonly string[],
): Promise<ShutPlanGate[]> {
  const names = repos ?? config.repositories.map((r) => r.name);
  const out: ShutPlanGate[] = [];
  for (const repo of new Set(names)) {
    const file = policyFor(config, repo).plan;
    if (!file) continue;
    const status = await planStatus(db, config, repo).catch((err: unknown) => ({
      reason: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
      fix: `see \`hyperion plan ${repo}\``,
    }));
    if (status?.reason) out.push({ repo, file, reason: status.reason, fix: status.fix ?? "" });
  }
  return out;
}

/** The Plans page: each repository's plan gate, its text and the diff an admin approves. */
export async function planPage(db: Db, config: LoadedConfig, user: User) {
  const plans = [];
  for (const r of config.repositories) {
    if (!policyFor(config, r.name).plan) continue;
    const detail = await planDetail(db, config, r.name);
    plans.push({
      ...detail,
      // Only what an admin decides on needs the whole text; the gate's state is for everyone.
      text: detail.text !== null && detail.text.length <= 200_000 ? detail.text : null,
    });
  }
  return { plans, canApprove: can(user.role, "plan.approve") };
}

export type PlanPage = Awaited<ReturnType<typeof planPage>>;
