"use client";
import { useRouter } from "next/navigation";
import { type FormEvent, useEffect, useRef, useState, useTransition } from "react";
import {
  HISTORY_Q_MAX,
  type HistoryValues,
  historyHref,
  historySortLabels,
  historySorts,
} from "@/schemas/history";

const SEARCH_DELAY_MS = 300;

/** Values as the URL keeps them (trimmed search, default sort left out), for comparing. */
const asInUrl = (v: HistoryValues) =>
  JSON.stringify({ ...v, q: v.q.trim(), sort: v.sort === "new" ? "" : v.sort });
const field = "rounded border border-slate-300 bg-white px-2 py-1";

/** An unknown value in the URL shows as "All …"; the next change drops it, as shown. */
function knownOnly(
  v: HistoryValues,
  known: {
    statuses: { value: string }[];
    repos: readonly string[];
    kinds: readonly string[];
    mines: { value: string }[];
  },
): HistoryValues {
  return {
    ...v,
    mine: known.mines.some((m) => m.value === v.mine) ? v.mine : "",
    status: known.statuses.some((s) => s.value === v.status) ? v.status : "",
    repo: known.repos.includes(v.repo) ? v.repo : "",
    kind: known.kinds.includes(v.kind) ? v.kind : "",
  };
}

/**
 * Search, filters and order for the history. Each change applies at once and lands in the URL
 * (a new history entry, so Back undoes it); without JavaScript it is a plain GET form.
 */
export function HistoryFilters(props: {
  values: HistoryValues;
  repos: readonly string[];
  statuses: { value: string; label: string }[];
  kinds: readonly string[];
  /** The "Mine" choices: filed by me, waiting for me. */
  mines: { value: string; label: string }[];
}) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const { statuses, repos, kinds, mines } = props;
  const [values, setValues] = useState(() => knownOnly(props.values, props));
  // What this form last sent: the URL catching up with it must not undo later typing.
  const sent = useRef(props.values);
  const timer = useRef<Awaited<ReturnType<typeof setTimeout>>>(undefined);

  useEffect(() => {
    if (asInUrl(props.values) !== asInUrl(sent.current)) {
      sent.current = props.values;
      setValues(knownOnly(props.values, { statuses, repos, kinds, mines }));
    }
  }, [props.values, statuses, repos, kinds, mines]);
  useEffect(() => () => clearTimeout(timer.current), []);

  function go(next: HistoryValues) {
    clearTimeout(timer.current);
    sent.current = next;
    startTransition(() => router.push(historyHref(next)));
  }
  function change(key: keyof HistoryValues, value: string) {
    const next = { ...values, [key]: value };
    setValues(next);
    if (key !== "q") return go(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => go(next), SEARCH_DELAY_MS);
  }
  function submit(e: FormEvent) {
    e.preventDefault();
    go(values);
  }

  const select = (
    key: keyof HistoryValues,
    label: string,
    options: { value: string; label: string }[],
    all: string,
  ) => (
    <label className="flex min-w-0 flex-col">
      {label}
      <select
        name={key}
        value={
          options.some((o) => o.value === values[key])
            ? values[key]
            : all
              ? ""
              : (options[0]?.value ?? "")
        }
        onChange={(e) => change(key, e.target.value)}
        className={field}
      >
        {all && <option value="">{all}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <search>
      <form
        method="get"
        action="/history"
        onSubmit={submit}
        className="mb-4 flex flex-wrap items-end gap-3 text-sm"
        data-testid="history-filters"
      >
        <label className="flex min-w-0 grow basis-48 flex-col sm:max-w-xs">
          Search titles
          <input
            type="search"
            name="q"
            value={values.q}
            maxLength={HISTORY_Q_MAX}
            onChange={(e) => change("q", e.target.value)}
            placeholder="e.g. discount"
            className={field}
          />
        </label>
        {select("status", "Status", props.statuses, "All statuses")}
        {select(
          "repo",
          "Repository",
          props.repos.map((r) => ({ value: r, label: r })),
          "All repositories",
        )}
        {select(
          "kind",
          "Kind",
          props.kinds.map((k) => ({ value: k, label: k })),
          "All kinds",
        )}
        {select("mine", "Mine", props.mines, "Everyone's")}
        {select(
          "sort",
          "Sort",
          historySorts.map((s) => ({ value: s, label: historySortLabels[s] })),
          "",
        )}
        <noscript>
          <button type="submit" className="rounded border border-slate-300 bg-white px-3 py-1">
            Apply
          </button>
        </noscript>
        <span aria-live="polite" className="text-slate-500" data-testid="history-pending">
          {pending ? "Loading…" : ""}
        </span>
      </form>
    </search>
  );
}
