"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState } from "react";
import { type AlertKind, alertKindText } from "@/schemas/alerts";
import type { AlertList } from "@/server/alerts/list";
import { Age } from "./age";
import { EntryLink, RequestLink } from "./ids";
import { notify } from "./toast";
import { useTRPC } from "./trpc";

const CAP = 99;

/**
 * The header's "Alerts" link with how many alerts are open (fired, not cleared), for operators
 * and admins. It polls the alert topic (alert.recent): a new alert shows a toast, and the count
 * and the /alerts list are fetched again.
 */
export function AlertsLink({ initial }: { initial: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { data } = useQuery(
    trpc.alert.count.queryOptions(undefined, {
      initialData: { open: initial },
      staleTime: 0,
      refetchInterval: 30_000,
    }),
  );
  // Polled every 2 s, not streamed: a browser gives a host six HTTP/1.1 connections, and a
  // stream of its own in every tab's header left none for the tab's requests.
  const [cursor, setCursor] = useState<number | undefined>(undefined);
  const recent = useQuery(
    trpc.alert.recent.queryOptions({ afterId: cursor }, { refetchInterval: 2000, staleTime: 0 }),
  );
  const seen = recent.data;
  useEffect(() => {
    if (!seen) return;
    setCursor(seen.last);
    // The first answer only says where "now" is.
    if (cursor === undefined || seen.events.length === 0) return;
    for (const e of seen.events)
      if (e.type === "alert.fired")
        notify.alert(
          `Alert: ${alertKindText[e.kind as AlertKind] ?? "an alert fired"}`,
          e.summary ?? "",
          `/alerts#alert-${e.alertId}`,
        );
    void queryClient.invalidateQueries({ queryKey: trpc.alert.count.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.alert.list.queryKey() });
  }, [seen, cursor, queryClient, trpc]);
  const open = data?.open ?? initial;
  return (
    <Link
      href="/alerts"
      className="flex items-center gap-1.5 hover:underline"
      data-testid="alerts-link"
      data-live={cursor === undefined ? "no" : "yes"}
    >
      Alerts
      <span
        className={`rounded-full px-1.5 text-xs font-semibold ${open > 0 ? "bg-red-700 text-white" : "bg-slate-200 text-slate-600"}`}
        data-testid="alert-count"
        title={`${open} open alert${open === 1 ? "" : "s"}`}
      >
        {open > CAP ? `${CAP}+` : open}
        <span className="sr-only"> open</span>
      </span>
    </Link>
  );
}

type Alert = AlertList["alerts"][number];
type Delivery = Alert["deliveries"][number];

const deliveryText: Record<Delivery["state"], string> = {
  pending: "Waiting to be sent",
  sending: "Sending",
  retrying: "Failed; will try again",
  delivered: "Delivered",
  dead: "Dead-lettered: gave up after the last try",
};
const deliveryClass: Record<Delivery["state"], string> = {
  pending: "bg-slate-100 text-slate-800",
  sending: "bg-sky-100 text-sky-900",
  retrying: "bg-amber-100 text-amber-900",
  delivered: "bg-emerald-100 text-emerald-900",
  dead: "bg-red-100 text-red-900",
};

function Subject({ a }: { a: Alert }) {
  if (a.subjectType === "entry")
    return (
      <>
        entry <EntryLink id={Number(a.subjectId)} />
        {a.requestId ? (
          <>
            {" "}
            for request <RequestLink id={a.requestId} />
          </>
        ) : null}
      </>
    );
  if (a.subjectType === "host")
    return (
      <>
        worker <code className="text-xs">{a.subjectId}</code> (see{" "}
        <Link href="/queue" className="text-sky-800 underline">
          the queue
        </Link>
        )
      </>
    );
  if (a.subjectType === "verification")
    return (
      <>
        verification #{a.subjectId} of{" "}
        <Link href="/queue" className="text-sky-800 underline">
          {a.repo}
        </Link>
      </>
    );
  return (
    <>
      the remote of <code className="text-xs">{a.subjectId}</code>
    </>
  );
}

function when(at: number) {
  return `${new Date(at).toISOString().replace("T", " ").slice(0, 19)} UTC`;
}

/** /alerts: newest first, what fired, when, about what, and each webhook delivery's fate. */
export function AlertsView({ initial }: { initial: AlertList }) {
  const trpc = useTRPC();
  const { data } = useQuery(
    trpc.alert.list.queryOptions(undefined, {
      initialData: initial,
      staleTime: 0,
      refetchInterval: 30_000,
    }),
  );
  const list = data ?? initial;
  if (list.alerts.length === 0)
    return (
      <p className="rounded border border-slate-200 bg-white p-4 text-slate-600">
        No alert has fired. Rules are set in the config&apos;s <code>alerts</code> list (see{" "}
        <code>docs/alerts.md</code>).
      </p>
    );
  return (
    <ol className="space-y-3" data-testid="alert-list">
      {list.alerts.map((a) => (
        <li
          key={a.id}
          id={`alert-${a.id}`}
          className="rounded border border-slate-200 bg-white p-3 text-sm"
          data-testid="alert"
          data-state={a.resolvedAt ? "cleared" : "open"}
        >
          <div className="flex flex-wrap items-baseline justify-between gap-2">
            <h2 className="font-semibold">{alertKindText[a.kind]}</h2>
            <span
              className={`rounded px-1.5 text-xs font-semibold ${a.resolvedAt ? "bg-slate-100 text-slate-700" : "bg-red-700 text-white"}`}
            >
              {a.resolvedAt ? "Cleared" : "Open"}
            </span>
          </div>
          <p className="mt-1 break-words">{a.summary}</p>
          <p className="mt-1 text-slate-600">
            Fired <Age at={a.firedAt} /> ago ({when(a.firedAt)}) about <Subject a={a} />
            {a.resolvedAt ? <>; cleared {when(a.resolvedAt)}</> : null}.
          </p>
          {a.deliveries.length === 0 ? (
            <p className="mt-2 text-slate-600">No webhook: shown here only.</p>
          ) : (
            <ul className="mt-2 space-y-1" aria-label={`Deliveries of alert ${a.id}`}>
              {a.deliveries.map((d) => (
                <li
                  key={d.id}
                  className="flex flex-wrap items-baseline gap-x-2 gap-y-1"
                  data-testid="delivery"
                  data-state={d.state}
                >
                  <span
                    className={`rounded px-1.5 text-xs font-semibold ${deliveryClass[d.state]}`}
                  >
                    {deliveryText[d.state]}
                  </span>
                  <code className="break-all text-xs">{d.target}</code>
                  <span className="text-slate-600">
                    ({d.format}) try {d.attempts} of {d.maxAttempts}
                    {d.lastStatus !== null ? `, last answer ${d.lastStatus}` : ""}
                    {d.nextAttemptAt ? `, next try ${when(d.nextAttemptAt)}` : ""}
                  </span>
                  {d.lastError && d.state !== "delivered" ? (
                    <span className="w-full break-words text-slate-700">{d.lastError}</span>
                  ) : null}
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ol>
  );
}
