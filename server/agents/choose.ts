import { type AgentName, agentNames } from "@/schemas/agents";
import type { Policy } from "@/schemas/policy";
import { currentEnv } from "@/server/env.mjs";

/**
 * Which agent does a task: the one a reviewer handed it to (`assigned`), else the policy's
 * choice for its area, else the policy's default, else HYPERION_AGENT, else the built-in
 * developer (the seed's opt-in: real agents only when asked).
 */
export function agentFor(
  policy: Policy,
  area: string | null,
  assigned?: AgentName | null,
): AgentName {
  return (
    assigned ??
    (area ? policy.agents.byArea[area] : undefined) ??
    policy.agents.default ??
    currentEnv().HYPERION_AGENT ??
    "builtin"
  );
}

/**
 * The agents a repository's policy names for its tasks, other than the built-in developer: its
 * default, those of its areas, and `command` when it gives a command line. A reviewer may hand
 * a task to one of these.
 */
export function namedAgents(policy: Policy): Exclude<AgentName, "builtin">[] {
  const names = new Set<AgentName>([
    ...(policy.agents.default ? [policy.agents.default] : []),
    ...Object.values(policy.agents.byArea),
    ...(policy.agents.command ? (["command"] as const) : []),
  ]);
  return agentNames.filter(
    (n): n is Exclude<AgentName, "builtin"> => n !== "builtin" && names.has(n),
  );
}
