"use client";
import { ErrorPanel } from "@/components/error-panel";

/** A page outside the app's layout (sign-in) that failed. */
export default function ErrorPage({
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <main className="mx-auto max-w-xl space-y-4 px-6 py-16" role="alert" data-testid="error-page">
      <ErrorPanel reset={reset} />
    </main>
  );
}
