"use client";
import { ErrorPanel } from "@/components/error-panel";

/** A page inside the app that failed: said under the header, so every way out stays in reach. */
export default function ErrorPage({
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <section className="max-w-xl space-y-4 py-8" role="alert" data-testid="error-page">
      <ErrorPanel reset={reset} />
    </section>
  );
}
