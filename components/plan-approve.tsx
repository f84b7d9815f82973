"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { notify } from "./toast";
import { useTRPC } from "./trpc";

/** An admin approves the plan text shown above (its hash): the plan gate opens on it. */
export function PlanApproveButton({
  repo,
  file,
  textHash,
}: {
  repo: string;
  file: string;
  textHash: string;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const approve = useMutation(
    trpc.plan.approve.mutationOptions({
      onSuccess: () => {
        notify.success(`${file} of ${repo} approved.`, "Its tasks are dispatched again.");
        router.refresh();
      },
      onError: (err) => notify.error(`${file} of ${repo} was not approved.`, err.message),
    }),
  );
  return (
    <div className="space-y-1">
      <button
        type="button"
        data-testid={`plan-approve-${repo}`}
        disabled={approve.isPending}
        onClick={() => approve.mutate({ repo, textHash })}
        className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
      >
        {approve.isPending ? "Approving…" : `Approve this text of ${file}`}
      </button>
      {approve.error && (
        <p role="alert" className="text-sm text-red-800">
          {approve.error.message}
        </p>
      )}
    </div>
  );
}
