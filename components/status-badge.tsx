import type { RequestStatus } from "@/schemas/request-status";

const colours: Record<RequestStatus, string> = {
  received: "bg-sky-100 text-sky-800",
  needs_clarification: "bg-amber-100 text-amber-800",
  needs_attention: "bg-orange-100 text-orange-900",
  planned: "bg-indigo-100 text-indigo-800",
  in_progress: "bg-violet-100 text-violet-800",
  done: "bg-green-100 text-green-800",
  failed: "bg-red-100 text-red-800",
  cancelled: "bg-slate-200 text-slate-700",
  rolled_back: "bg-rose-100 text-rose-800",
};

export function StatusBadge({ status }: { status: RequestStatus }) {
  return (
    <span className={`rounded px-2 py-0.5 text-xs font-medium ${colours[status]}`}>
      {status.replaceAll("_", " ")}
    </span>
  );
}
