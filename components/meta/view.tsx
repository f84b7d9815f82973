"use client";
import { useQuery } from "@tanstack/react-query";
import { metaKindLabels } from "@/schemas/meta";
import type { MetaQueue } from "@/server/views/meta";
import { Age } from "../age";
import { RequestLink } from "../ids";
import { Cell, EmptyRow, StackedHead, stacked } from "../stacked-table";
import { StatusBadge } from "../status-badge";
import { useTRPC } from "../trpc";
import { MetaSubmitForm } from "./submit-form";

const COLUMNS = ["Item", "State", "Kind", "Concerns", "Effect", "By", "Source event", "When"];

/** What an item is about, in a few words: its request or repository and its own fields. */
function Concerns({ item }: { item: MetaQueue["items"][number] }) {
  const p = item.payload;
  return (
    <span className="flex flex-wrap items-center gap-x-1">
      {item.requestId !== null && <RequestLink id={item.requestId} />}
      {item.repo && <span>{item.repo}</span>}
      {item.kind === "depend" && typeof p.on === "number" && (
        <>
          <span>waits for</span>
          <RequestLink id={p.on} />
        </>
      )}
      {item.kind === "priority" && <span>→ {String(p.priority)}</span>}
      {item.kind === "steer" && (
        <span>
          run {String(p.run)}: {String(p.command)}
        </span>
      )}
      {typeof p.note === "string" && <span className="text-slate-600">“{p.note}”</span>}
    </span>
  );
}

/**
 * The workspace meta queue, newest first, polled: each item's state and effect, and above them
 * the overrides in force (paused repositories, priorities).
 */
export function MetaView({ initial, repos }: { initial: MetaQueue; repos: string[] }) {
  const trpc = useTRPC();
  const { data, refetch } = useQuery({
    ...trpc.meta.list.queryOptions(undefined),
    initialData: initial,
    refetchInterval: 5_000,
  });
  const queue = data ?? initial;
  return (
    <div className="space-y-6">
      <section aria-labelledby="meta-new">
        <h2 id="meta-new" className="mb-2 font-semibold">
          New item
        </h2>
        <MetaSubmitForm repos={repos} onDone={() => void refetch()} />
      </section>
      <section aria-labelledby="meta-in-force">
        <h2 id="meta-in-force" className="mb-2 font-semibold">
          In force
        </h2>
        {queue.paused.length === 0 && queue.priorities.length === 0 ? (
          <p className="text-sm text-slate-600" data-testid="meta-in-force">
            No repository is paused and no priority is set: every repository dispatches as its
            policy says.
          </p>
        ) : (
          <ul className="space-y-1 text-sm" data-testid="meta-in-force">
            {queue.paused.map((p) => (
              <li key={p.repo} data-testid={`meta-paused-${p.repo}`}>
                <strong>{p.repo}</strong> is paused (item #{p.itemId}, {p.by}
                {p.note ? `: ${p.note}` : ""}): none of its tasks is dispatched.
              </li>
            ))}
            {queue.priorities.map((p) => (
              <li key={p.target}>
                <strong>{p.target}</strong> is dispatched at {p.priority} priority (item #{p.itemId}
                ).
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="meta-items">
        <h2 id="meta-items" className="mb-2 font-semibold">
          Items
        </h2>
        <table className={stacked.table} data-testid="meta-items">
          <StackedHead columns={COLUMNS} />
          <tbody className={stacked.tbody}>
            {queue.items.length === 0 && (
              <EmptyRow colSpan={COLUMNS.length}>
                Nothing yet: submit an item with <code>hyperion meta</code> or the API&apos;s{" "}
                <code>meta.submit</code>.
              </EmptyRow>
            )}
            {queue.items.map((i) => (
              <tr key={i.id} className={stacked.row} data-testid={`meta-item-${i.sourceEventId}`}>
                <Cell label="Item">#{i.id}</Cell>
                <Cell label="State" data-testid="meta-item-state">
                  <StatusBadge status={i.state} />
                </Cell>
                <Cell label="Kind">{metaKindLabels[i.kind]}</Cell>
                <Cell label="Concerns">
                  <Concerns item={i} />
                </Cell>
                <Cell label="Effect" data-testid="meta-item-effect">
                  {i.effect ?? "—"}
                </Cell>
                <Cell label="By" className="break-all">
                  {i.by}
                </Cell>
                <Cell label="Source event" className="break-all font-mono text-xs">
                  {i.sourceEventId}
                </Cell>
                <Cell label="When">
                  <Age at={i.updatedAt} />
                </Cell>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
