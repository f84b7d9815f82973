import { Forbidden } from "@/components/forbidden";
import { MetaView } from "@/components/meta/view";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { runtime } from "@/server/runtime";
import { pageCaller } from "@/server/trpc/page-caller";

export const metadata = { title: "Meta queue" };
export const dynamic = "force-dynamic";

export default async function MetaPage() {
  const user = await requirePageUser("/meta");
  if (!can(user.role, "meta.operate")) return <Forbidden need="meta.operate" />;
  const { env } = runtime();
  const caller = pageCaller(user);
  return (
    <section>
      <h1 className="mb-1 text-2xl font-semibold">Meta queue</h1>
      <p className="mb-4 text-sm text-slate-600">
        What crosses repositories: a request waiting for another repository&apos;s to land,
        operators&apos; priorities and pauses, cancels and restarts, QA escalations and steering.
        Each item is applied once, by the id of the event it came from. Submit one here, with{" "}
        <code>hyperion meta</code>, or with the API&apos;s <code>meta.submit</code>; see{" "}
        <code>docs/worker-factory.md</code>.
      </p>
      <MetaView
        initial={await caller.meta.list()}
        repos={currentConfig(env.configPath).repositories.map((r) => r.name)}
      />
    </section>
  );
}
