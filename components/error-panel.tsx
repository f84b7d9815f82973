"use client";
import Link from "next/link";

/** What a failed page says, wherever it failed: try again, or a way back. */
export function ErrorPanel({ reset }: { reset: () => void }) {
  return (
    <>
      <h1 className="text-2xl font-semibold">Something went wrong</h1>
      <p>
        This page could not be shown. Nothing you filed was lost: try again, or go back to the
        history. If it keeps happening, an admin finds the reason in the server's log.
      </p>
      <p className="flex gap-4">
        <button type="button" className="rounded border px-3 py-1" onClick={() => reset()}>
          Try again
        </button>
        <Link className="underline" href="/history">
          Back to history
        </Link>
      </p>
    </>
  );
}
