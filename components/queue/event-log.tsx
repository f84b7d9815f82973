"use client";
import { useState } from "react";
import { stateLabel } from "@/schemas/labels";
import { EntryLink, RequestLink } from "../ids";
import { type EventFilter, eventKinds, eventText, matchesEvent } from "../queue-guidance";
import type { LogRow } from "./types";

/** Keeps the filters in the address, so a filtered log can be shared or reloaded. */
function writeFilterToUrl(filter: EventFilter) {
  const url = new URL(window.location.href);
  for (const [key, value] of [
    ["event", filter.event],
    ["q", filter.q],
  ] as const) {
    if (value) url.searchParams.set(key, value);
    else url.searchParams.delete(key);
  }
  window.history.replaceState(null, "", url);
}

export function EventLog({
  events,
  initialFilter,
}: {
  events: LogRow[];
  initialFilter: EventFilter;
}) {
  const [filter, setFilter] = useState(initialFilter);
  const update = (next: Partial<EventFilter>) => {
    const merged = { ...filter, ...next };
    setFilter(merged);
    writeFilterToUrl(merged);
  };
  const shown = events.filter((e) => matchesEvent(e, filter));
  const filtered = Boolean(filter.event || filter.q.trim());
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading" className="mb-2 font-semibold">
        Recent events
      </h2>
      <form
        className="mb-2 flex flex-wrap items-end gap-3 text-sm"
        data-testid="queue-event-filter"
        onSubmit={(ev) => ev.preventDefault()}
      >
        <label className="flex flex-col">
          Event
          <select
            name="event"
            value={filter.event}
            onChange={(ev) => update({ event: ev.target.value })}
            className="rounded border px-2 py-1"
          >
            <option value="">all</option>
            {eventKinds.map((k) => (
              <option key={k} value={k}>
                {k === "failures" ? "failures (an error recorded)" : `moved to ${stateLabel(k)}`}
              </option>
            ))}
          </select>
        </label>
        <label className="flex min-w-0 flex-col">
          Entry, request or text
          <input
            name="q"
            type="search"
            value={filter.q}
            placeholder="Q7, R12, conflict…"
            onChange={(ev) => update({ q: ev.target.value })}
            className="w-48 max-w-full rounded border px-2 py-1"
          />
        </label>
        <span className="pb-1 text-slate-500" data-testid="queue-event-count">
          {filtered
            ? `${shown.length} of the last ${events.length} events`
            : `the last ${events.length} events`}
        </span>
      </form>
      {/* The newest 100, in a box of its own: it never pushes the page down. */}
      <ol
        className="max-h-80 space-y-1 overflow-auto rounded border border-slate-200 bg-white p-2 font-mono text-xs"
        data-testid="queue-events"
        aria-label="Recent queue events, newest first"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        tabIndex={0}
      >
        {shown.length === 0 && (
          <li className="text-slate-500" data-testid="queue-events-empty">
            {filtered ? "No recent event matches these filters." : "No events yet."}
          </li>
        )}
        {shown.map((e) => (
          <li
            key={e.id}
            className="break-words"
            data-testid="queue-event"
            data-from={e.event.from ?? ""}
            data-to={e.event.to}
          >
            <EntryLink id={e.entryId} />
            {e.requestId !== null && (
              <>
                {" "}
                <RequestLink id={e.requestId} />
              </>
            )}{" "}
            {eventText(e)}
          </li>
        ))}
      </ol>
    </section>
  );
}
