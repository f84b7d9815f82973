"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRef } from "react";
import type { BoardQuery } from "@/schemas/board";
import type { Board } from "@/server/views/request-board";
import { Age } from "./age";
import { RequestLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { StatusBadge } from "./status-badge";
import { useTRPC } from "./trpc";

/**
 * The board's columns, live: every request event after the page's render (request.live, from
 * `afterId`) reads the board again, at most every 300 ms; a poll every 30 s is the backstop.
 * No drag: a card moves when its request does.
 */
export function RequestBoard({
  initial,
  query,
  afterId,
}: {
  initial: Board;
  query: BoardQuery;
  afterId: number;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { data } = useQuery(
    trpc.request.board.queryOptions(query, { initialData: initial, refetchInterval: 30_000 }),
  );
  const pending = useRef<Awaited<ReturnType<typeof setTimeout>> | null>(null);
  const live = useSubscription(
    trpc.request.live.subscriptionOptions(
      { afterId },
      {
        onData: () => {
          if (pending.current) return;
          pending.current = setTimeout(() => {
            pending.current = null;
            void queryClient.invalidateQueries({ queryKey: trpc.request.board.queryKey(query) });
          }, 300);
        },
      },
    ),
  );
  const board = data ?? initial;
  return (
    <div>
      <LiveIndicator status={live.status} testId="board-live" className="mb-2" />
      <div className="grid gap-4 sm:grid-cols-2 lg:flex lg:overflow-x-auto lg:pb-2">
        {board.columns.map((column) => (
          <section
            key={column.key}
            aria-labelledby={`col-${column.key}`}
            className="flex min-w-0 flex-col gap-2 rounded bg-slate-100 p-2 lg:w-60 lg:shrink-0"
            data-testid={`board-column-${column.key}`}
          >
            <h2 id={`col-${column.key}`} className="flex items-baseline justify-between px-1">
              <span className="font-semibold">{column.label}</span>
              <span className="text-sm text-slate-600" data-testid="board-column-total">
                {column.total}
              </span>
            </h2>
            {column.cards.length === 0 ? (
              <p className="px-1 text-sm text-slate-600">None.</p>
            ) : (
              <ul className="flex flex-col gap-2">
                {column.cards.map((card) => (
                  <li
                    key={card.id}
                    className="rounded border border-slate-200 bg-white p-2 text-sm shadow-sm"
                    data-testid="board-card"
                    data-request={card.id}
                  >
                    <p className="[overflow-wrap:anywhere]">
                      <RequestLink id={card.id} /> {card.title}
                    </p>
                    <div className="mt-1 flex flex-wrap items-center gap-x-2 gap-y-1 text-xs text-slate-600">
                      <StatusBadge status={card.status} />
                      <span>{card.repo}</span>
                      {card.kind && <span>{card.kind}</span>}
                      <span className="break-all">{card.requester}</span>
                      <Age at={card.updatedAt} />
                    </div>
                  </li>
                ))}
              </ul>
            )}
            {column.total > column.cards.length && (
              <p className="px-1 text-xs text-slate-600">
                Showing the {column.cards.length} most recently updated of {column.total}.
              </p>
            )}
          </section>
        ))}
      </div>
    </div>
  );
}
