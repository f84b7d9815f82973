import type { Tier } from "./types";

const riskColours: Record<string, string> = {
  low: "bg-green-100 text-green-800",
  medium: "bg-amber-100 text-amber-900",
  high: "bg-red-100 text-red-800",
};

export function RiskBadge({ risk }: { risk: string }) {
  return (
    <span
      className={`rounded px-2 py-0.5 text-xs font-medium ${riskColours[risk] ?? "bg-slate-100"}`}
      data-testid="approval-risk"
    >
      {risk} risk
    </span>
  );
}

/** What a tier asks for, as a sentence. */
export function tierInWords(risk: string, tier: Tier): string {
  if (tier.approvals === 0) return `A ${risk}-risk change lands by itself once its checks pass.`;
  const count = tier.approvals === 1 ? "one approval" : `${tier.approvals} approvals`;
  const extra = [
    tier.requireDiff && "from a reviewer who opened the whole diff",
    tier.requireComment && "with a comment saying why it is safe",
  ].filter(Boolean);
  return `A ${risk}-risk change needs ${count} by a reviewer, operator or admin who did not file its request${extra.length ? `, ${extra.join(", ")}` : ""}.`;
}
