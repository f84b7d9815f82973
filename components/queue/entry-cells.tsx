import { EntryLink, RequestLink, TaskLink } from "../ids";
import { Cell } from "../stacked-table";
import type { Moving } from "./types";

/** An entry's change: its summary, request and task. */
export function ChangeRefs({ e }: { e: Pick<Moving, "summary" | "requestId" | "taskId"> }) {
  return (
    <>
      <span className="break-words">{e.summary}</span>
      <span className="ml-1 whitespace-nowrap text-xs">
        {e.requestId !== null && <RequestLink id={e.requestId} />}{" "}
        {e.taskId && <TaskLink id={e.taskId} />}
      </span>
    </>
  );
}

/** A table row's first two cells: the entry, and its change. */
export function EntryCells({ e }: { e: Pick<Moving, "id" | "summary" | "requestId" | "taskId"> }) {
  return (
    <>
      <Cell label="Entry">
        <EntryLink id={e.id} />
      </Cell>
      <Cell label="Change">
        <ChangeRefs e={e} />
      </Cell>
    </>
  );
}
