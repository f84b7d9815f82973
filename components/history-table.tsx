"use client";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useState } from "react";
import type { RequestSummary } from "@/server/requests/service";
import { Age } from "./age";
import { LiveIndicator } from "./live-indicator";
import { StatusBadge } from "./status-badge";
import { TableHead } from "./table-head";
import { useTRPC } from "./trpc";

const LIMIT = 100;

type Filter = { status?: string; repo?: string };

function matches(row: RequestSummary, filter: Filter): boolean {
  return (
    (!filter.status || row.status === filter.status) && (!filter.repo || row.repo === filter.repo)
  );
}

/**
 * The task history. Rows come rendered from the server with the event id they were read at;
 * the subscription resumes from that id, so nothing filed in between is missed.
 */
export function HistoryTable(props: {
  initialRows: RequestSummary[];
  cursor: number;
  filter: Filter;
}) {
  const trpc = useTRPC();
  const [rows, setRows] = useState(props.initialRows);
  const live = useSubscription(
    trpc.request.live.subscriptionOptions(
      { afterId: props.cursor },
      {
        onData: ({ data: event }) => {
          if (event.type === "request.created") {
            const row = event.payload as RequestSummary;
            setRows((current) => {
              const rest = current.filter((r) => r.id !== row.id);
              if (!matches(row, props.filter)) return rest;
              return [row, ...rest].sort((a, b) => b.id - a.id).slice(0, LIMIT);
            });
          } else if (event.type === "request.status") {
            const { id, status } = event.payload as {
              id: number;
              status: RequestSummary["status"];
            };
            setRows((current) =>
              current
                .map((r) => (r.id === id ? { ...r, status } : r))
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
      <table className="w-full bg-white text-left text-sm" data-testid="history-table">
        <TableHead columns={["#", "Title", "Status", "Kind", "Repo", "Requester", "Age"]} />
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={7} className="p-6 text-center text-slate-500">
                No requests yet.{" "}
                <Link href="/requests/new" className="underline">
                  File one
                </Link>{" "}
                or run <code>npx hyperion request file.json</code>.
              </td>
            </tr>
          )}
          {rows.map((r) => (
            <tr key={r.id} className="border-b hover:bg-slate-50" data-testid="history-row">
              <td className="p-2 text-slate-500">{r.id}</td>
              <td className="p-2">
                <Link href={`/requests/${r.id}`} className="hover:underline">
                  {r.title}
                </Link>
              </td>
              <td className="p-2">
                <StatusBadge status={r.status} />
              </td>
              <td className="p-2">{r.kind ?? "—"}</td>
              <td className="p-2">{r.repo}</td>
              <td className="p-2">{r.requester}</td>
              <td className="p-2 text-slate-500">
                <Age at={r.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
