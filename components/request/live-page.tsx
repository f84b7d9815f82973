"use client";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useState } from "react";
import { requestRef } from "@/schemas/ids";
import type { RequestPage } from "@/server/views/request-page";
import { RequestRecovery } from "../request-recovery";
import { TraceView } from "../trace-view";
import { useTRPC, useTRPCClient } from "../trpc";
import { Dependencies } from "./dependencies";
import { RequestSummary } from "./summary";
import { RequestView } from "./view";

type Permissions = {
  canRerun: boolean;
  canAnswer: boolean;
  canRescope: boolean;
  canCancel: boolean;
  canEdit: { clarification: boolean; attention: boolean };
  /** May approve this request's changes (a reviewer who did not file it). */
  canReview: boolean;
};

/**
 * The request page, live: each event about this request (filtered on the server) arrives with
 * the page as it stands after it — detail, trace and summary together, so none of them lags.
 */
function useLivePage(initial: RequestPage, cursor: number) {
  const client = useTRPCClient();
  const trpc = useTRPC();
  const [page, setPage] = useState(initial);
  const id = initial.detail.request.id;
  const refresh = useCallback(async () => {
    const next = await client.request.page.query({ id });
    if (next) setPage(next);
  }, [client, id]);
  const live = useSubscription(
    trpc.request.pageLive.subscriptionOptions(
      { afterId: cursor, entityId: id },
      {
        onData: (event) => {
          if (event.data.page) setPage(event.data.page);
        },
      },
    ),
  );
  return { page, refresh, live };
}

export function LiveRequestPage({
  initial,
  cursor,
  permissions,
  areaNames,
  webUrl,
}: {
  initial: RequestPage;
  cursor: number;
  permissions: Permissions;
  areaNames: string[];
  webUrl?: string;
}) {
  const { page, refresh, live } = useLivePage(initial, cursor);
  const { detail, trace, summary, dependencies } = page;
  const { request } = detail;
  return (
    <>
      <h1 className="text-2xl font-semibold" data-testid="request-title">
        {requestRef(request.id)} {request.title}
      </h1>
      {request.status === "failed" && (
        <RequestRecovery
          requestId={request.id}
          canRerun={permissions.canRerun}
          failures={detail.tasks
            .filter((t) => t.state === "failed")
            .map((t) => {
              const change = detail.changes.find((c) => c.id === t.changeRequestId);
              return {
                taskId: t.id,
                title: t.title,
                reason: t.blockedReason ?? null,
                entryId: change?.entryId ?? null,
                message: change?.lastError?.message ?? null,
                output: change?.lastError?.outputTail ?? null,
              };
            })}
        />
      )}
      <Dependencies dependencies={dependencies} />
      <RequestView
        detail={detail}
        live={live.status}
        refresh={refresh}
        canAnswer={permissions.canAnswer}
        canRescope={permissions.canRescope}
        canEdit={permissions.canEdit}
        areaNames={areaNames}
        webUrl={webUrl}
        canCancel={permissions.canCancel}
        canReview={permissions.canReview}
        canRerun={permissions.canRerun}
      />
      {summary && <RequestSummary id={request.id} summary={summary} />}
      <TraceView trace={trace} webUrl={webUrl} />
    </>
  );
}
