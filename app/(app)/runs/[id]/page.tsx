import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { Forbidden } from "@/components/forbidden";
import { TaskLink } from "@/components/ids";
import { RunView } from "@/components/run/view";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { lastEventId } from "@/server/events/log";
import { shownTo } from "@/server/redact";
import { runtime } from "@/server/runtime";
import { runDetail } from "@/server/views/runs";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata(props: Props): Promise<Metadata> {
  const { id } = await props.params;
  // The root layout's template makes it "Run 3 · Hyperion".
  return { title: `Run ${id}` };
}

export default async function RunPage(props: Props) {
  const { id } = await props.params;
  const user = await requirePageUser(`/runs/${id}`);
  if (!can(user.role, "queue.read")) return <Forbidden need="queue.read" />;
  const { db, env } = runtime();
  // Read the cursor first: an event written between the two reads is then replayed, not lost.
  const cursor = await lastEventId(db);
  const detail = /^\d+$/.test(id) ? shownTo({ user, env }, await runDetail(db, Number(id))) : null;
  if (!detail) notFound();
  return (
    <article className="min-w-0 space-y-4">
      <h1 className="break-words text-2xl font-semibold" data-testid="run-title">
        Run {detail.run.id}{" "}
        <span className="text-lg">
          <TaskLink id={detail.run.taskId} />
        </span>
      </h1>
      <RunView
        initial={detail}
        cursor={cursor}
        canSteer={can(user.role, "queue.operate")}
        webUrl={
          currentConfig(env.configPath).repositories.find((r) => r.name === detail.run.repo)?.webUrl
        }
      />
    </article>
  );
}
