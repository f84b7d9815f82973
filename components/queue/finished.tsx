"use client";
import Link from "next/link";
import { useState } from "react";
import { Age } from "../age";
import { CommitLink } from "../ids";
import { RollbackButton } from "../rollback-button";
import { Cell, EmptyRow, StackedHead, stacked } from "../stacked-table";
import { StatusBadge } from "../status-badge";
import { EntryCells } from "./entry-cells";
import type { Overview } from "./types";

/** Finished entries shown before "Show more". */
const FINISHED_SHOWN = 20;

/** What finished lately, newest first: its state, its commit, and a rollback for what merged. */
export function FinishedSection({
  entries,
  webUrls,
  canRollback,
  onRollback,
}: {
  entries: Overview["finished"];
  webUrls: Record<string, string>;
  canRollback: boolean;
  onRollback: () => void;
}) {
  const [all, setAll] = useState(false);
  const shown = all ? entries : entries.slice(0, FINISHED_SHOWN);
  return (
    <section aria-labelledby="finished-heading">
      <h2 id="finished-heading" className="mb-2 font-semibold">
        Recently finished
      </h2>
      <table className={stacked.table} data-testid="finished-table">
        <StackedHead columns={["Entry", "Change", "State", "Commit", "Finished", ""]} />
        <tbody className={stacked.tbody}>
          {entries.length === 0 && (
            <EmptyRow colSpan={6}>
              <span data-testid="queue-finished-empty">Nothing finished yet.</span>
            </EmptyRow>
          )}
          {shown.map((e) => (
            <tr
              key={e.id}
              id={`entry-${e.id}`}
              className={stacked.row}
              data-testid="finished-entry"
            >
              <EntryCells e={e} />
              <Cell label="State">
                <StatusBadge status={e.state} />
              </Cell>
              <Cell label="Commit">
                {e.mergedCommit ? (
                  <CommitLink sha={e.mergedCommit} webUrl={webUrls[e.repo]} />
                ) : (
                  "—"
                )}
              </Cell>
              <Cell label="Finished">
                <Age at={e.updatedAt} /> ago
              </Cell>
              <td className="block py-1 sm:table-cell sm:p-2">
                {canRollback && e.state === "merged" && (
                  <RollbackButton
                    entry={{ entryId: e.id, summary: e.summary }}
                    onDone={onRollback}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.length > FINISHED_SHOWN && (
        <p className="mt-2 text-sm">
          {all ? (
            <>
              The newest {entries.length} are shown; older ones are on{" "}
              <Link className="underline" href="/history">
                /history
              </Link>
              .
            </>
          ) : (
            <button type="button" className="underline" onClick={() => setAll(true)}>
              Show more ({entries.length - FINISHED_SHOWN})
            </button>
          )}
        </p>
      )}
    </section>
  );
}
