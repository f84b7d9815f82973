import {
  HISTORY_PAGE_SIZE,
  HISTORY_Q_MAX,
  type HistoryQuery,
  HistorySort,
  type HistoryValues,
  historySorts,
} from "@/schemas/history";
import { MineFilter } from "@/schemas/mine";
import { RequestStatus } from "@/schemas/request-status";
import { requestKinds } from "@/schemas/task-request";

type Param = string | string[] | undefined;
export type HistoryParams = Partial<Record<string, Param>>;

export type HistoryRead = {
  values: HistoryValues;
  /** The query to run, or null when a filter value is not known (nothing could match it). */
  query: HistoryQuery | null;
  /** Why nothing is listed: one sentence per unknown filter value. */
  problems: string[];
  /** What was set aside and read as its default instead (an unknown sort, a stale cursor). */
  notices: string[];
};

// Long hostile values are shown back cut short; React escapes what is shown.
const shown = (value: string) => (value.length > 60 ? `${value.slice(0, 60)}…` : value);

function one(name: string, raw: Param, problems: string[]): string {
  if (Array.isArray(raw)) {
    problems.push(`Choose one ${name}, not ${raw.length}.`);
    return "";
  }
  return raw ?? "";
}

/**
 * The /history URL read without ever failing: an unknown status, repository or kind lists
 * nothing and says which value is not known; an unknown sort or a cursor that is not one is
 * set aside with a notice. `repos` are the repository names the page knows.
 */
export function readHistoryParams(params: HistoryParams, repos: readonly string[]): HistoryRead {
  const problems: string[] = [];
  const notices: string[] = [];
  const values: HistoryValues = {
    q: one("search", params.q, problems),
    status: one("status", params.status, problems),
    repo: one("repository", params.repo, problems),
    kind: one("kind", params.kind, problems),
    mine: one("mine", params.mine, problems),
    sort: one("sort", params.sort, notices),
  };
  const cursor = one("page", params.cursor, notices);

  const q = values.q.trim();
  if (q.length > HISTORY_Q_MAX)
    problems.push(
      `Search is at most ${HISTORY_Q_MAX} characters (no title is longer); this one has ${q.length}.`,
    );
  const status = RequestStatus.optional().safeParse(values.status || undefined);
  if (!status.success) problems.push(`No status called '${shown(values.status)}'.`);
  if (values.repo && !repos.includes(values.repo))
    problems.push(`No repository called '${shown(values.repo)}'.`);
  const kind = (requestKinds as readonly string[]).includes(values.kind)
    ? (values.kind as HistoryQuery["kind"])
    : undefined;
  if (values.kind && !kind) problems.push(`No kind called '${shown(values.kind)}'.`);
  const mine = MineFilter.optional().safeParse(values.mine || undefined);
  if (!mine.success)
    problems.push(`No 'mine' filter called '${shown(values.mine)}' (filed or waiting).`);
  const sort = HistorySort.safeParse(values.sort || "new");
  if (!sort.success) {
    notices.push(
      `No sort called '${shown(values.sort)}' (sorts: ${historySorts.join(", ")}); showing newest first.`,
    );
    values.sort = "";
  }

  const query: HistoryQuery | null = problems.length
    ? null
    : {
        q: q || undefined,
        status: status.data,
        repo: values.repo || undefined,
        kind,
        mine: mine.data,
        sort: sort.data ?? "new",
        cursor: cursor || undefined,
        limit: HISTORY_PAGE_SIZE,
      };
  return { values, query, problems, notices };
}

/** The filters in words, for "No requests match …". */
export function describeFilters(values: HistoryValues, statusLabel: (s: string) => string): string {
  return [
    values.q.trim() && `search '${shown(values.q.trim())}'`,
    values.status && `status '${statusLabel(values.status)}'`,
    values.repo && `repository '${shown(values.repo)}'`,
    values.kind && `kind '${shown(values.kind)}'`,
    values.mine === "filed" && "filed by you",
    values.mine === "waiting" && "waiting for you",
  ]
    .filter(Boolean)
    .join(", ");
}
