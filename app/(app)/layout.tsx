import Link from "next/link";
import type { ReactNode } from "react";
import { ApprovalsLink } from "@/components/approvals-link";
import { ConfigBanner } from "@/components/config-banner";
import { Providers } from "@/components/providers";
import { SignOutButton } from "@/components/sign-out-button";
import { WorkerStatus } from "@/components/worker-status";
import { waitingCount } from "@/server/approvals/service";
import { can } from "@/server/auth/permissions";
import { sessionUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";

export default async function AppLayout({ children }: { children: ReactNode }) {
  // Pages check access themselves (a layout is not re-run on client navigation); this only
  // decides what the navigation shows.
  const user = await sessionUser();
  return (
    <Providers>
      <header className="border-b border-slate-200 bg-white">
        <nav className="mx-auto flex max-w-6xl items-center gap-6 px-6 py-3 text-sm">
          <Link href="/history" className="text-base font-semibold">
            Hyperion
          </Link>
          <Link href="/history" className="hover:underline">
            History
          </Link>
          <Link href="/requests/new" className="hover:underline">
            New request
          </Link>
          {user && can(user.role, "queue.read") && (
            <Link href="/queue" className="hover:underline">
              Queue
            </Link>
          )}
          {user && can(user.role, "queue.read") && (
            <Link href="/runs" className="hover:underline">
              Runs
            </Link>
          )}
          {user && can(user.role, "change.approve") && (
            <ApprovalsLink initial={waitingCount(runtime().db)} />
          )}
          {user && can(user.role, "user.read") && (
            <Link href="/admin/users" className="hover:underline">
              Users
            </Link>
          )}
          <span className="ml-auto flex items-center gap-4">
            {user && <WorkerStatus />}
            {user && (
              <span className="text-slate-500">
                {user.email} · {user.role}
              </span>
            )}
            {user && <SignOutButton />}
          </span>
        </nav>
      </header>
      {user && can(user.role, "user.manage") && <ConfigBanner />}
      <main className="mx-auto max-w-6xl px-6 py-8">{children}</main>
    </Providers>
  );
}
