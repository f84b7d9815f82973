import { EntryLink } from "../ids";

type Blocker = { id: number; state: string };

/**
 * The earlier entries a queued one waits behind, linked: those waiting for a reviewer are named
 * so, since only a person moves them (the others land by themselves, first).
 */
export function BlockedBy({ blockers }: { blockers: Blocker[] }) {
  const reviewed = blockers.filter((b) => b.state === "awaiting_approval");
  const moving = blockers.filter((b) => b.state !== "awaiting_approval");
  return (
    <span data-testid="blocked-by">
      {reviewed.length > 0 && (
        <span className="mr-2">
          {reviewed.map((b) => (
            <span key={b.id} className="mr-1">
              <EntryLink id={b.id} />
            </span>
          ))}
          (same paths, waiting for a reviewer)
        </span>
      )}
      {moving.length > 0 && (
        <span>
          {moving.map((b) => (
            <span key={b.id} className="mr-1">
              <EntryLink id={b.id} />
            </span>
          ))}
          (same paths, queued first)
        </span>
      )}
    </span>
  );
}
