import { tracked } from "@trpc/server";
import { z } from "zod";
import { HistoryQuery } from "@/schemas/history";
import type { TaskRequestInput } from "@/schemas/task-request";
import { currentConfig } from "@/server/config/load";
import { followEvents, LiveInput, lastEventId, liveCursor } from "@/server/events/log";
import { shownTo } from "@/server/redact";
import { type AnswerInput, answerRequest } from "@/server/requests/answer";
import { cancelRequest } from "@/server/requests/cancel";
import { closeRequest } from "@/server/requests/close";
import { editRequest, type RequestEditInput } from "@/server/requests/edit";
import { fileRequests } from "@/server/requests/intake";
import { rerunRequest } from "@/server/requests/rerun";
import { getRequest, type RequestSummary } from "@/server/requests/service";
import { changeDiff } from "@/server/views/change-diff";
import { type HistoryRow, historyRow, listHistory } from "@/server/views/history";
import { requestBoard } from "@/server/views/request-board";
import { requestDetail } from "@/server/views/request-detail";
import { requestPage } from "@/server/views/request-page";
import { procedure, router } from "../init";

/**
 * A live request event: a new request (with its row), a status change, or task progress. A new
 * request and a status change also carry `row`, the request's history row as it stands after the
 * event (its kind, inferred by the Engineer, included), so a live row reads as a reload would.
 */
export type LiveRequestEvent =
  | { type: "request.created"; requestId: number; payload: RequestSummary; row?: HistoryRow }
  | {
      type: "request.status";
      requestId: number;
      payload: { id: number; status: RequestSummary["status"] };
      row?: HistoryRow;
    }
  | { type: string; requestId: number; payload: Record<string, unknown>; row?: HistoryRow };

const withRow = new Set(["request.created", "request.status"]);

export const requestRouter = router({
  // Validation is the service's, so the browser, the CLI and the API share one path. A file the
  // target branch lacks is refused (a `new_file` issue) unless the request says allowNewFiles.
  create: procedure("request.create")
    .input(z.custom<TaskRequestInput | TaskRequestInput[]>())
    .mutation(({ ctx, input }) =>
      fileRequests(ctx.db, {
        input,
        requester: ctx.user,
        config: currentConfig(ctx.env.configPath),
        source: ctx.via === "token" ? "api" : "web",
      }),
    ),

  /**
   * One page of the history (schemas/history.ts). `afterId` is the event id it was read at, for
   * `request.live`; read first, so an event written between the two reads is replayed, not lost.
   */
  list: procedure("request.read")
    .input(HistoryQuery.optional())
    .query(async ({ ctx, input }) => {
      const afterId = await lastEventId(ctx.db);
      return { ...(await listHistory(ctx.db, input ?? HistoryQuery.parse({}), ctx.user)), afterId };
    }),

  /** The board: requests in columns by status, filtered by repo, kind and "mine" (schemas/board.ts). */
  board: procedure("request.read")
    .input(z.unknown())
    .query(async ({ ctx, input }) => requestBoard(ctx.db, input, ctx.user)),

  detail: procedure("request.read")
    .input(z.strictObject({ id: z.number().int().positive() }))
    .query(async ({ ctx, input }) => shownTo(ctx, await requestDetail(ctx.db, input.id))),

  /** A change's whole patch, read-only (a requester follows her change while it waits for review). */
  changeDiff: procedure("request.read")
    .input(z.strictObject({ changeId: z.number().int().positive() }))
    .query(async ({ ctx, input }) => shownTo(ctx, await changeDiff(ctx.db, input.changeId))),

  /** The request page as one read: detail, trace and summary (server/views/request-page.ts). */
  page: procedure("request.read")
    .input(z.strictObject({ id: z.number().int().positive() }))
    .query(async ({ ctx, input }) => shownTo(ctx, await requestPage(ctx.db, input.id))),

  /**
   * One request's page, live: each event about it (its status, its tasks, runs, queue entries
   * and approvals) arrives with the page as it stands after that event, so the detail, the trace
   * and the summary move together without a reload or a second round trip.
   */
  pageLive: procedure("request.read")
    .input(LiveInput.extend({ entityId: z.number().int().positive() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const from = await liveCursor(input, async () => lastEventId(ctx.db));
      for await (const event of followEvents(ctx.db, "request", from, signal, input.entityId)) {
        yield tracked(
          String(event.id),
          shownTo(ctx, { type: event.type, page: await requestPage(ctx.db, input.entityId) }),
        );
      }
    }),

  /** Answers to the Engineer's questions; the request is planned again at once. */
  answer: procedure("request.create")
    .input(z.strictObject({ id: z.number().int().positive(), answer: z.custom<AnswerInput>() }))
    .mutation(async ({ ctx, input }) =>
      answerRequest(ctx.db, currentConfig(ctx.env.configPath), input.id, ctx.user, input.answer),
    ),

  /**
   * Edits a request that waits for clarification, or a failed one (fields given replace); it is
   * planned again at once.
   */
  edit: procedure("request.create")
    .input(z.strictObject({ id: z.number().int().positive(), edit: z.custom<RequestEditInput>() }))
    .mutation(async ({ ctx, input }) =>
      editRequest(ctx.db, currentConfig(ctx.env.configPath), input.id, ctx.user, input.edit),
    ),

  /** Runs a failed request's failed tasks again (its requester, an operator or an admin). */
  rerun: procedure("request.create")
    .input(z.strictObject({ id: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => rerunRequest(ctx.db, input.id, ctx.user)),

  /** Closes a failed request with a reason (its requester, or an operator or admin). */
  close: procedure("request.create")
    .input(z.strictObject({ id: z.number().int().positive(), reason: z.unknown() }))
    .mutation(async ({ ctx, input }) => closeRequest(ctx.db, input.id, ctx.user, input.reason)),

  /** Cancels an unfinished request (its requester, or an operator or admin). */
  cancel: procedure("request.create")
    .input(
      z.strictObject({
        id: z.number().int().positive(),
        reason: z.string().trim().max(500).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => cancelRequest(ctx.db, input.id, ctx.user, input.reason)),

  get: procedure("request.read")
    .input(z.strictObject({ id: z.number().int().positive() }))
    .query(async ({ ctx, input }) => (await getRequest(ctx.db, input.id)) ?? null),

  /**
   * New and changed requests, live. `afterId` is the event id the page was rendered at;
   * on a reconnect the client sends `lastEventId` and the stream resumes from there.
   */
  live: procedure("request.read")
    .input(LiveInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const from = await liveCursor(input, async () => lastEventId(ctx.db));
      for await (const event of followEvents(ctx.db, "request", from, signal, input.entityId)) {
        yield tracked(
          String(event.id),
          shownTo(ctx, {
            type: event.type,
            requestId: event.entityId,
            payload: event.payload,
            ...(withRow.has(event.type) && event.entityId !== null
              ? { row: await historyRow(ctx.db, event.entityId) }
              : {}),
          } as LiveRequestEvent),
        );
      }
    }),
});
