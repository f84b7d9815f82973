"use client";
import { useQuery } from "@tanstack/react-query";
import { Age } from "./age";
import { useTRPC } from "./trpc";

/**
 * For admins: says when hyperion.config.json has turned bad while Hyperion runs — what is wrong
 * and which file to fix. Until it is fixed, the last good configuration stays in force.
 */
export function ConfigBanner() {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.system.config.queryOptions(undefined, { refetchInterval: 5000 }));
  if (!data?.problem) return null;
  return (
    <div role="alert" className="border-b border-amber-300 bg-amber-50" data-testid="config-banner">
      <div className="mx-auto max-w-6xl px-6 py-3 text-sm">
        <p>
          <strong>The configuration file has a problem</strong> (for <Age at={data.problem.since} />
          ). Fix <code>{data.file}</code>;{" "}
          {data.lastGoodInForce
            ? "until then Hyperion keeps using the last good configuration."
            : "until then the pages and tasks that need it cannot run."}
        </p>
        <pre className="mt-2 whitespace-pre-wrap text-xs text-amber-900">
          {data.problem.message}
        </pre>
      </div>
    </div>
  );
}
