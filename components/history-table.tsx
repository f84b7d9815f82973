"use client";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useState } from "react";
import type { RequestSummary } from "@/server/requests/service";
import type { HistoryRow } from "@/server/views/history";
import { Age } from "./age";
import { RequestLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { StatusBadge } from "./status-badge";
import { TableHead } from "./table-head";
import { useTRPC } from "./trpc";

type Filter = { q?: string; status?: string; repo?: string; kind?: string; requester?: string };

// SQLite's LIKE folds ASCII letters only; so does this, so a live row matches as a reload would.
const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function matches(row: HistoryRow, filter: Filter): boolean {
  return (
    (!filter.q || fold(row.title).includes(fold(filter.q))) &&
    (!filter.status || row.status === filter.status) &&
    (!filter.repo || row.repo === filter.repo) &&
    (!filter.kind || row.kind === filter.kind) &&
    (!filter.requester || row.requester === filter.requester)
  );
}

const cell = "sm:table-cell sm:p-2";

/**
 * One page of the task history. Rows come rendered from the server with the event id they were
 * read at; the subscription resumes from that id, so nothing filed in between is missed. New
 * requests that match join the top of the first page (`liveInserts`); status changes apply to
 * every page. Under the `sm` breakpoint each row is a card.
 */
export function HistoryTable(props: {
  initialRows: HistoryRow[];
  afterId: number;
  filter: Filter;
  liveInserts: boolean;
  /** The filters in words when any is set: an empty page then means "no match", not "none yet". */
  filtered: string;
  /** Whether this is a later page (reached by a cursor). */
  paged: boolean;
}) {
  const trpc = useTRPC();
  const [rows, setRows] = useState(props.initialRows);
  const live = useSubscription(
    trpc.request.live.subscriptionOptions(
      { afterId: props.afterId },
      {
        onData: ({ data: event }) => {
          // The server sends the row as a reload would show it (`row`); the payload is the
          // fallback for an event that came without one.
          const fresh = (event as { row?: HistoryRow }).row;
          if (event.type === "request.created") {
            const summary = event.payload as RequestSummary;
            const row: HistoryRow = fresh ?? {
              ...summary,
              kindInferred: false,
              updatedAt: summary.createdAt,
            };
            if (!props.liveInserts || !matches(row, props.filter)) return;
            // The page grows rather than dropping its last row, which the next page starts after.
            setRows((current) => [row, ...current.filter((r) => r.id !== row.id)]);
          } else if (event.type === "request.status") {
            const { id, status } = event.payload as {
              id: number;
              status: RequestSummary["status"];
            };
            setRows((current) =>
              current
                .map((r) => (r.id === id ? (fresh ? { ...fresh, status } : { ...r, status }) : r))
                .filter((r) => r.id !== id || matches(r, props.filter)),
            );
          }
        },
      },
    ),
  );

  return (
    <div>
      <LiveIndicator status={live.status} testId="live-state" className="mb-2" />
      {rows.length === 0 ? (
        <Empty filtered={props.filtered} paged={props.paged} />
      ) : (
        <table
          className="block w-full text-left text-sm sm:table sm:bg-white [&>thead]:hidden sm:[&>thead]:table-header-group"
          data-testid="history-table"
        >
          <TableHead columns={["ID", "Title", "Status", "Kind", "Repo", "Requester", "Age"]} />
          <tbody className="block space-y-2 sm:table-row-group sm:space-y-0">
            {rows.map((r) => (
              <tr
                key={r.id}
                className="flex flex-wrap items-center gap-x-3 gap-y-1 rounded border border-slate-200 bg-white p-3 hover:bg-slate-50 sm:table-row sm:rounded-none sm:border-0 sm:border-b sm:p-0"
                data-testid="history-row"
              >
                <td className={`order-1 ${cell}`}>
                  <RequestLink id={r.id} />
                </td>
                <td
                  className={`order-3 basis-full font-medium [overflow-wrap:anywhere] sm:font-normal ${cell}`}
                >
                  <Link href={`/requests/${r.id}`} className="hover:underline">
                    {r.title}
                  </Link>
                </td>
                <td className={`order-2 ${cell}`}>
                  <StatusBadge status={r.status} />
                </td>
                <td className={`order-4 ${r.kind ? "" : "hidden"} ${cell}`}>
                  {r.kind ? (
                    <>
                      {r.kind}
                      {r.kindInferred && (
                        <span className="text-xs text-slate-500" title="Inferred by the Engineer">
                          {" "}
                          (inferred)
                        </span>
                      )}
                    </>
                  ) : (
                    "—"
                  )}
                </td>
                <td className={`order-5 text-slate-600 sm:text-inherit ${cell}`}>{r.repo}</td>
                <td className={`order-6 min-w-0 break-all text-slate-600 sm:text-inherit ${cell}`}>
                  {r.requester}
                </td>
                <td className={`order-7 text-slate-500 ${cell}`}>
                  <Age at={r.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Empty({ filtered, paged }: { filtered: string; paged: boolean }) {
  if (filtered || paged)
    return (
      <div
        className="rounded border bg-white p-6 text-center text-sm text-slate-600 [overflow-wrap:anywhere]"
        data-testid="history-no-match"
      >
        {filtered ? `No requests match ${filtered}.` : "No requests on this page."}{" "}
        <Link href="/history" className="underline">
          {paged && !filtered ? "First page" : "Clear filters"}
        </Link>
      </div>
    );
  return (
    <div
      className="rounded border bg-white p-6 text-center text-sm text-slate-600"
      data-testid="history-empty"
    >
      No requests yet —{" "}
      <Link href="/requests/new" className="underline">
        file one
      </Link>{" "}
      or run <code>npx hyperion request file.json</code>.
    </div>
  );
}
