import { AlertsView } from "@/components/alerts";
import { Forbidden } from "@/components/forbidden";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { pageCaller } from "@/server/trpc/page-caller";

export const metadata = { title: "Alerts" };
export const dynamic = "force-dynamic";

export default async function AlertsPage() {
  const user = await requirePageUser("/alerts");
  if (!can(user.role, "queue.operate")) return <Forbidden need="queue.operate" />;
  const caller = pageCaller(user);
  const initial = await caller.alert.list();
  return (
    <section>
      <h1 className="mb-1 text-2xl font-semibold">Alerts</h1>
      <p className="mb-4 text-sm text-slate-600">
        What the config&apos;s alert rules caught, newest first, and what became of each webhook
        delivery: tried again with backoff, and dead-lettered after the last try. See{" "}
        <code>docs/alerts.md</code>.
      </p>
      <AlertsView initial={initial} />
    </section>
  );
}
