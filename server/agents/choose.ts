import type { AgentName } from "@/schemas/agents";
import type { Policy } from "@/schemas/policy";
import { currentEnv } from "@/server/env.mjs";

/**
 * Which agent does a task: the policy's choice for its area, else the policy's default, else
 * HYPERION_AGENT, else the built-in developer (the seed's opt-in: real agents only when asked).
 */
export function agentFor(policy: Policy, area: string | null): AgentName {
  return (
    (area ? policy.agents.byArea[area] : undefined) ??
    policy.agents.default ??
    currentEnv().HYPERION_AGENT ??
    "builtin"
  );
}
