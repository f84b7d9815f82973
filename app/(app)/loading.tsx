/** What a page shows while the server renders it: a named wait, not a blank screen. */
export default function Loading() {
  return (
    <div
      className="flex items-center gap-3 py-12 text-slate-600"
      role="status"
      data-testid="loading"
    >
      <span
        aria-hidden="true"
        className="inline-block size-4 animate-spin rounded-full border-2 border-slate-300 border-t-slate-700"
      />
      Loading…
    </div>
  );
}
