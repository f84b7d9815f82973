import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { Forbidden } from "@/components/forbidden";
import { ChangeLabel, CommitLink, EntryLink, RequestLink, TaskLink } from "@/components/ids";
import { BlockedBy } from "@/components/queue/blocked-by";
import { RollbackButton } from "@/components/rollback-button";
import { StatusBadge } from "@/components/status-badge";
import { TraceView } from "@/components/trace-view";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { NotFoundError } from "@/server/errors";
import { shownTo } from "@/server/redact";
import { runtime } from "@/server/runtime";
import { entryPage } from "@/server/views/entry-page";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata(props: Props): Promise<Metadata> {
  const { id } = await props.params;
  return { title: `Q${id.replace(/^Q/i, "")}` };
}

/** A queue entry's page: why it did (not) merge, in words, and the chain it belongs to. */
export default async function EntryPage(props: Props) {
  const { id } = await props.params;
  const user = await requirePageUser(`/queue/${id}`);
  if (!can(user.role, "queue.read")) return <Forbidden need="queue.read" />;
  const n = /^Q?(\d{1,9})$/i.exec(id)?.[1];
  if (!n) notFound();
  const { db, env } = runtime();
  let page: Awaited<ReturnType<typeof entryPage>>;
  try {
    page = shownTo({ user, env }, await entryPage(db, Number(n)));
  } catch (err) {
    if (err instanceof NotFoundError) notFound();
    throw err;
  }
  const { timeline: view, task, trace, revertedBy } = page;
  const webUrl = currentConfig(env.configPath).repositories.find(
    (r) => r.name === view.entry.repo,
  )?.webUrl;
  return (
    <article className="min-w-0 space-y-6">
      <header className="space-y-1">
        <h1 className="break-words text-2xl font-semibold" data-testid="entry-title">
          Q{view.entry.id} {view.change?.summary.split("\n")[0]}
        </h1>
        <p className="break-words text-sm text-slate-600">
          <span data-testid="entry-state" data-state={view.entry.state}>
            <StatusBadge status={view.entry.state} />
          </span>{" "}
          {view.entry.repo} → {view.entry.targetBranch} · attempt {view.entry.attempts} of{" "}
          {view.entry.maxAttempts} · risk {view.change?.risk}
          {view.change?.revertOf ? ` · reverts change C${view.change.revertOf}` : ""}
          {view.entry.mergedCommit && (
            <>
              {" "}
              · merged as <CommitLink sha={view.entry.mergedCommit} webUrl={webUrl} />
            </>
          )}
        </p>
        {view.entry.pipeline && ["applying", "checking", "ready"].includes(view.entry.state) && (
          <p className="text-sm" data-testid="entry-pipeline">
            In the pipeline, round {view.entry.pipeline.round}:{" "}
            {view.entry.pipeline.role === "probe"
              ? "checked alone while the lane bisects a failure"
              : `batch ${view.entry.pipeline.batch} of ${view.entry.pipeline.of}`}{" "}
            ({view.entry.pipeline.size} change{view.entry.pipeline.size === 1 ? "" : "s"}), on{" "}
            {view.entry.pipeline.stackedOn ? (
              <EntryLink id={view.entry.pipeline.stackedOn} />
            ) : (
              "the branch's tip"
            )}
            .
          </p>
        )}
        {task && (
          <p className="text-sm" data-testid="entry-refs">
            {task.requestId !== null && (
              <>
                Request <RequestLink id={task.requestId} /> ·{" "}
              </>
            )}
            task <TaskLink id={task.id} /> · change C{view.change?.id}
          </p>
        )}
        <p className="break-all text-sm">
          Paths: <span className="font-mono">{view.paths.join(", ") || "—"}</span>
        </p>
      </header>
      <section
        aria-labelledby="next-heading"
        className="rounded border border-sky-200 bg-sky-50 p-3 text-sm"
      >
        <h2 id="next-heading" className="font-semibold">
          What happens next
        </h2>
        <p data-testid="entry-next">{view.next}</p>
        {view.entry.state === "awaiting_approval" && (
          <p>
            <Link className="underline" href={`/approvals#entry-${view.entry.id}`}>
              Review it on /approvals
            </Link>
          </p>
        )}
        {revertedBy && (
          <p data-testid="entry-reverted">
            Rolled back: its revert <ChangeLabel id={revertedBy.id} />
            {revertedBy.entryId ? (
              <>
                {" "}
                is <EntryLink id={revertedBy.entryId} />
              </>
            ) : null}
            {revertedBy.mergedCommit ? ", landed." : ", on its way through the queue."}
          </p>
        )}
        {view.entry.state === "merged" && can(user.role, "change.rollback") && !revertedBy && (
          <RollbackButton
            entry={{
              entryId: view.entry.id,
              summary: view.change?.summary.split("\n")[0] ?? "",
              files: view.stats,
            }}
          />
        )}
        {view.entry.pullRequest && (
          <p data-testid="entry-pull-request">
            Pull request:{" "}
            <a className="underline" href={view.entry.pullRequest.url}>
              #{view.entry.pullRequest.number}
            </a>{" "}
            from <code>{view.entry.pullRequest.branch}</code>
          </p>
        )}
        {view.blockedBy.length > 0 && (
          <p>
            Blocked behind: <BlockedBy blockers={view.blockedBy} />
          </p>
        )}
      </section>
      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading" className="text-lg font-semibold">
          Timeline
        </h2>
        <ol className="mt-2 space-y-2 text-sm" data-testid="entry-timeline">
          {view.lines.map((l) => (
            <li key={l.id} className="border-l-2 border-slate-300 pl-3">
              <time className="text-slate-500" dateTime={new Date(l.at).toISOString()}>
                {new Date(l.at).toISOString().replace("T", " ").slice(0, 19)} UTC
              </time>{" "}
              {l.text}
              {l.detail && (
                <pre className="mt-1 max-h-64 overflow-auto whitespace-pre-wrap rounded bg-slate-900 p-2 text-xs text-slate-100">
                  {l.detail}
                </pre>
              )}
            </li>
          ))}
        </ol>
      </section>
      {trace && <TraceView trace={trace} />}
    </article>
  );
}
