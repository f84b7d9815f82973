import { stateLabel, type Tone, toneOf } from "@/schemas/labels";

// One palette for every kind of state; each pair passes WCAG AA contrast.
const toneClass: Record<Tone, string> = {
  neutral: "bg-slate-200 text-slate-800",
  info: "bg-sky-100 text-sky-900",
  progress: "bg-violet-100 text-violet-900",
  success: "bg-green-100 text-green-900",
  warning: "bg-amber-100 text-amber-900",
  danger: "bg-red-100 text-red-900",
};

/** A state shown in words (schemas/labels.ts); the machine name stays in `data-state`. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span
      className={`inline-block whitespace-nowrap rounded px-2 py-0.5 text-xs font-medium ${toneClass[toneOf(status)]}`}
      data-state={status}
    >
      {stateLabel(status)}
    </span>
  );
}
