import Link from "next/link";

export const metadata = { title: "Not found" };

/** Any unknown page, or a request, run or entry that does not exist: say so, and offer a way back. */
export default function NotFound() {
  return (
    <main className="mx-auto max-w-xl space-y-4 px-6 py-16" data-testid="not-found">
      <h1 className="text-2xl font-semibold">Nothing here</h1>
      <p>
        There is no page at this address: the request, run or queue entry may not exist, or the link
        is mistyped.
      </p>
      <p className="flex gap-4">
        <Link className="underline" href="/history">
          Back to history
        </Link>
        <Link className="underline" href="/requests/new">
          File a request
        </Link>
      </p>
    </main>
  );
}
