import { ApprovalsView } from "@/components/approvals/view";
import { Forbidden } from "@/components/forbidden";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";
import { pageCaller } from "@/server/trpc/page-caller";
import { recentLogs } from "@/server/views/insights";

export const metadata = { title: "Approvals" };
export const dynamic = "force-dynamic";

export default async function ApprovalsPage() {
  const user = await requirePageUser("/approvals");
  if (!can(user.role, "change.approve")) return <Forbidden need="change.approve" />;
  const { db } = runtime();
  // The queue log's cursor first: a transition logged between the two reads is replayed.
  const cursor = (await recentLogs(db, 1))[0]?.id ?? 0;
  const caller = pageCaller(user);
  const initial = await caller.approval.list();
  return (
    <section>
      <h1 className="mb-1 text-2xl font-semibold">Approvals</h1>
      <p className="mb-4 text-sm text-slate-600">
        Changes whose risk needs a reviewer, oldest first. Each waits here after its checks passed;
        an approval names the exact patch, and lands only through the merge queue. See{" "}
        <code>docs/review-workflow.md</code>.
      </p>
      <ApprovalsView initial={initial} cursor={cursor} />
    </section>
  );
}
