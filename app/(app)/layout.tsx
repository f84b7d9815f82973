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
        {/* It wraps on a narrow screen instead of pushing Sign out off it. */}
        <nav className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3 text-sm sm:px-6">
          <Link href="/history" className="flex items-center gap-2 text-base font-semibold">
            {/* biome-ignore lint/performance/noImgElement: a 24 px SVG needs no image pipeline */}
            <img src="/logo.svg" alt="" width={24} height={24} />
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
          <span className="ml-auto flex flex-wrap items-center gap-x-4 gap-y-1">
            {user && <WorkerStatus />}
            {user && (
              <span className="break-all text-slate-500">
                {user.email} · {user.role}
              </span>
            )}
            {user && <SignOutButton />}
          </span>
        </nav>
      </header>
      {user && can(user.role, "user.manage") && <ConfigBanner />}
      <main className="mx-auto max-w-6xl px-4 py-8 sm:px-6">{children}</main>
    </Providers>
  );
}
