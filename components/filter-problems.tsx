import Link from "next/link";

/** Why a filtered list shows nothing: each unknown value said back, and the way out. */
export function FilterProblems({
  title,
  problems,
  clearHref,
  testId,
}: {
  title: string;
  problems: string[];
  clearHref: string;
  testId: string;
}) {
  return (
    <div
      role="alert"
      className="rounded border border-amber-300 bg-amber-50 p-4 text-sm"
      data-testid={testId}
    >
      <p className="font-medium">{title}</p>
      {problems.map((p) => (
        <p key={p} className="[overflow-wrap:anywhere]">
          {p}
        </p>
      ))}
      <p className="mt-2">
        <Link href={clearHref} className="underline">
          Clear filters
        </Link>
      </p>
    </div>
  );
}
