import Link from "next/link";
import { Forbidden } from "@/components/forbidden";
import { PlanGateNotice } from "@/components/plan-gate-notice";
import { QueueBoard } from "@/components/queue/board";
import { type EventFilter, eventKinds } from "@/components/queue-guidance";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { runtime } from "@/server/runtime";
import { pageCaller } from "@/server/trpc/page-caller";
import { shutPlanGates } from "@/server/views/plans";

export const metadata = { title: "Queue" };
export const dynamic = "force-dynamic";

type Param = string | string[] | undefined;
const one = (p: Param) => (Array.isArray(p) ? p[0] : p) ?? "";

export default async function QueuePage(props: {
  searchParams: Promise<{ event?: Param; q?: Param }>;
}) {
  const user = await requirePageUser("/queue");
  if (!can(user.role, "queue.read")) return <Forbidden need="queue.read" />;
  // The same procedure the browser polls, called in-process for the first render.
  const { db, env } = runtime();
  const caller = pageCaller(user);
  const initial = await caller.queue.overview();
  // Repositories whose plan gate holds their tasks: nothing of theirs reaches this queue.
  const gates = await shutPlanGates(db, currentConfig(env.configPath));
  // The event log's filters; an unknown event kind is ignored rather than hiding every event.
  const params = await props.searchParams;
  const event = one(params.event);
  const filter: EventFilter = {
    event: (eventKinds as readonly string[]).includes(event) ? event : "",
    q: one(params.q).slice(0, 100),
  };
  return (
    <section>
      <div className="mb-4 flex flex-wrap items-baseline justify-between gap-3">
        <h1 className="text-2xl font-semibold">Merge queue</h1>
        <div className="flex flex-wrap gap-x-4 text-sm">
          <Link href="/plans" className="underline">
            Plans: each repository's plan gate
          </Link>
          <Link href="/metrics" className="underline">
            Metrics: charts over the last hour, day or week
          </Link>
        </div>
      </div>
      <PlanGateNotice gates={gates} />
      <QueueBoard
        initial={initial}
        canOperate={can(user.role, "queue.operate")}
        canRollback={can(user.role, "change.rollback")}
        initialFilter={filter}
      />
    </section>
  );
}
