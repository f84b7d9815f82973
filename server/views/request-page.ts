import type { Db } from "@/server/db/client";
import { dependenciesOf } from "./meta";
import { detailOf } from "./request-detail";
import { requestSummary } from "./request-summary";
import { traceOfWork } from "./trace";
import { workOf } from "./work";

/** The statuses a request ends in: its summary is shown from then on. */
const FINISHED = ["done", "failed", "rolled_back", "cancelled"];

/**
 * The request page as one read: its detail, its trace and (once it has ended) its summary, all
 * shaped from one load of the request's work — so the three can never disagree, and the live
 * page receives all of them in each event about the request — and the requests it waits for.
 */
export async function requestPage(db: Db, id: number) {
  const work = await workOf(db, { requestId: id, taskId: null });
  const detail = detailOf(work);
  if (!detail) return null;
  const trace = traceOfWork(work);
  const summary = FINISHED.includes(detail.request.status)
    ? await requestSummary(db, id, trace)
    : null;
  // The requests it waits for, in this repository or another (the meta queue's dependencies).
  const dependencies = await dependenciesOf(db, detail.request);
  return { detail, trace, summary, dependencies };
}
export type RequestPage = NonNullable<Awaited<ReturnType<typeof requestPage>>>;
