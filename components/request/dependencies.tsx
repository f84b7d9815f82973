import type { RequestPage } from "@/server/views/request-page";
import { RequestLink } from "../ids";
import { StatusBadge } from "../status-badge";

/**
 * The requests this one waits for, in this repository or another (a cross-repository
 * dependency): each with its repository, its state, and why this one waits or no longer does.
 */
export function Dependencies({ dependencies }: { dependencies: RequestPage["dependencies"] }) {
  if (!dependencies.length) return null;
  return (
    <section aria-labelledby="request-waits-for" data-testid="request-dependencies">
      <h2 id="request-waits-for" className="mb-2 font-semibold">
        Waits for
      </h2>
      <ul className="space-y-2 text-sm">
        {dependencies.map((d) => (
          <li
            key={d.id}
            className={`rounded border p-3 ${d.satisfied ? "border-green-200 bg-green-50" : "border-amber-200 bg-amber-50"}`}
            data-testid={`dependency-R${d.id}`}
            data-satisfied={d.satisfied}
          >
            <span className="flex flex-wrap items-center gap-x-2 gap-y-1">
              <RequestLink id={d.id} title={d.title} />
              <span className="text-slate-700">
                in <strong>{d.repo}</strong>
                {d.crossRepo ? " (another repository)" : ""}
              </span>
              <StatusBadge status={d.status} />
            </span>
            <span className="mt-1 block text-slate-800" data-testid="dependency-why">
              {d.why}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
