import type { RequestDetail } from "@/server/views/request-detail";
import { ChangeLabel, CommitLink, EntryLink } from "../ids";

/** The request's changes that were reverted, each with the revert that undid it. */
export function RolledBack({
  changes,
  webUrl,
}: {
  changes: RequestDetail["changes"];
  webUrl?: string;
}) {
  const reverted = changes.filter((c) => c.revert);
  return (
    <div
      className="rounded border border-rose-300 bg-rose-50 p-3 text-sm"
      data-testid="rolled-back"
    >
      <p className="font-medium text-rose-900">This request's work was rolled back.</p>
      <ul className="mt-1 list-disc pl-5">
        {reverted.map((c) => (
          <li key={c.id}>
            <ChangeLabel id={c.id} /> ({c.summary.split("\n")[0]}) was reverted by{" "}
            {c.revert && (
              <>
                <ChangeLabel id={c.revert.id} /> <EntryLink id={c.revert.entryId} />
              </>
            )}
            {c.revert?.mergedCommit && (
              <>
                , commit <CommitLink sha={c.revert.mergedCommit} webUrl={webUrl} />
              </>
            )}
            .
          </li>
        ))}
      </ul>
      <p className="mt-1 text-rose-900">To try again, file a new request.</p>
    </div>
  );
}
