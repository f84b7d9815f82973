import { createHash } from "node:crypto";
import { type AlertRule, thresholdMs } from "@/schemas/alerts";

/**
 * A rule's key: a digest of its condition (kind, threshold, repositories), numbered when two
 * rules share one. Webhooks are not part of it: a webhook added to a rule does not fire again
 * what the rule already fired. Alerts and their deliveries name their rule by this key.
 */
export function ruleKeys(rules: readonly AlertRule[]): string[] {
  const seen = new Map<string, number>();
  return rules.map((rule) => {
    const condition = JSON.stringify({
      kind: rule.kind,
      threshold: thresholdMs(rule),
      repositories: "repositories" in rule ? [...(rule.repositories ?? [])].sort() : [],
    });
    const digest = createHash("sha256").update(condition).digest("hex").slice(0, 16);
    const n = seen.get(digest) ?? 0;
    seen.set(digest, n + 1);
    return n ? `${rule.kind}:${digest}.${n}` : `${rule.kind}:${digest}`;
  });
}

/** Whether a rule watches a repository (no `repositories`: all of them). */
export function watches(rule: AlertRule, repo: string | null): boolean {
  if (!("repositories" in rule) || !rule.repositories) return true;
  return repo !== null && rule.repositories.includes(repo);
}
