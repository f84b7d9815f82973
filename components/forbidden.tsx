import Link from "next/link";
import { roles } from "@/schemas/roles";
import { type Permission, rolePermissions } from "@/server/auth/permissions";

const what: Record<string, string> = {
  "queue.read": "the merge queue and agent runs",
  "change.approve": "changes waiting for approval",
  "queue.operate": "operating the queue and its alerts",
  "request.create": "filing requests",
  "user.read": "the people who use Hyperion",
};

/** A page the viewer's role may not open: which roles may, and how an admin grants one. */
export function Forbidden({ need }: { need: Permission }) {
  const allowed = roles.filter((r) => rolePermissions[r].includes(need));
  return (
    <section className="rounded border border-amber-300 bg-amber-50 p-6" data-testid="forbidden">
      <h1 className="text-xl font-semibold">Your role cannot open this page</h1>
      <p className="mt-2 text-sm">
        This page shows {what[need] ?? "something your role does not cover"}; it is open to{" "}
        {allowed.map((r, i) => (
          <span key={r}>
            {i > 0 && (i === allowed.length - 1 ? " and " : ", ")}
            <strong>{r}s</strong>
          </span>
        ))}
        {` (permission `}
        <code>{need}</code>).
      </p>
      <p className="mt-2 text-sm">
        An admin can change your role on the <strong>Users</strong> page, or with{" "}
        <code className="break-all">hyperion user set-role &lt;your email&gt; &lt;role&gt;</code>.
        docs/governance.md lists what each role may do.
      </p>
      <p className="mt-3 text-sm">
        <Link className="underline" href="/history">
          Back to history
        </Link>
      </p>
    </section>
  );
}
