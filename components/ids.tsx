import Link from "next/link";
import {
  changeRef,
  commitUrl,
  entryRef,
  requestRef,
  runRef,
  shortSha,
  taskRef,
  taskRequestId,
} from "@/schemas/ids";

// Every mention of a request, task, entry, run or commit is a link to its page, with the same
// id everywhere (schemas/ids.ts).
const linkClass = "font-mono text-[0.95em] text-sky-800 underline-offset-2 hover:underline";

export function RequestLink({ id, title }: { id: number; title?: string }) {
  return (
    <Link href={`/requests/${id}`} className={linkClass} data-ref={requestRef(id)}>
      {requestRef(id)}
      {title ? <span className="font-sans"> {title}</span> : null}
    </Link>
  );
}

/** A task lives on its request's page, anchored by its id. */
export function TaskLink({ id }: { id: string }) {
  const request = taskRequestId(id);
  if (request === undefined) return <code className="text-xs">{id}</code>;
  return (
    <Link href={`/requests/${request}#task-${id}`} className={linkClass} data-ref={taskRef(id)}>
      {taskRef(id)}
    </Link>
  );
}

export function EntryLink({ id }: { id: number }) {
  return (
    <Link href={`/queue/${id}`} className={linkClass} data-ref={entryRef(id)}>
      {entryRef(id)}
    </Link>
  );
}

export function RunLink({ id }: { id: number }) {
  return (
    <Link href={`/runs/${id}`} className={linkClass} data-ref={runRef(id)}>
      {runRef(id)}
    </Link>
  );
}

/** A commit as a short sha, linked to its page when the repository's config has `webUrl`. */
export function CommitLink({ sha, webUrl }: { sha: string; webUrl?: string }) {
  const url = commitUrl(webUrl, sha);
  if (!url) {
    return (
      <code className="text-xs" title={sha}>
        {shortSha(sha)}
      </code>
    );
  }
  return (
    <a href={url} className={linkClass} title={sha} rel="noopener noreferrer">
      {shortSha(sha)}
    </a>
  );
}

/** A change request has no page of its own: it reads as `C5` wherever it is named. */
export function ChangeLabel({ id }: { id: number }) {
  return (
    <span className="font-mono text-[0.95em]" data-ref={changeRef(id)}>
      {changeRef(id)}
    </span>
  );
}
