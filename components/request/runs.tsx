import type { RequestDetail } from "@/server/views/request-detail";
import { ChangeLabel } from "../ids";
import { RunCells, RunStateBadge } from "../runs-board";
import { Cell, StackedHead, stacked } from "../stacked-table";

/** The agent runs of the request's tasks, each linked to its run page. */
export function RequestRuns({ runs }: { runs: RequestDetail["runs"] }) {
  return (
    <section data-testid="request-runs">
      <h2 className="mb-2 font-semibold">Runs</h2>
      <table className={stacked.table}>
        <StackedHead columns={["Run", "Task", "Agent", "State", "Turns", "Change", "Reason"]} />
        <tbody className={stacked.tbody}>
          {runs.map((r) => (
            <tr key={r.id} className={`${stacked.row} align-top`}>
              <RunCells run={r} />
              <Cell label="Agent">{r.agent}</Cell>
              <Cell label="State">
                <RunStateBadge state={r.state} />
              </Cell>
              <Cell label="Turns">{r.turns}</Cell>
              <Cell label="Change">
                {r.changeRequestId ? <ChangeLabel id={r.changeRequestId} /> : "—"}
              </Cell>
              <Cell
                label="Reason"
                className="max-w-xs truncate text-xs"
                title={r.reason ?? undefined}
              >
                {r.reason ?? ""}
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
