/** Whether a live view's subscription is connected, for the line above it. */
export function LiveIndicator({
  status,
  testId,
  className = "",
}: {
  status: string;
  testId: string;
  className?: string;
}) {
  return (
    <p className={`text-xs text-slate-500 ${className}`} data-testid={testId}>
      {status === "pending" ? "● live" : status === "error" ? "reconnecting…" : "connecting…"}
    </p>
  );
}
