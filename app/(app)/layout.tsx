import Link from "next/link";
import type { ReactNode } from "react";
import { AlertsLink } from "@/components/alerts";
import { ApprovalsLink } from "@/components/approvals-link";
import { ConfigBanner } from "@/components/config-banner";
import { HeaderNav, NavLink } from "@/components/header-nav";
import { NotificationsLink } from "@/components/notifications";
import { Providers } from "@/components/providers";
import { SignOutButton } from "@/components/sign-out-button";
import { WorkerStatus } from "@/components/worker-status";
import { openAlertCount } from "@/server/alerts/list";
import { can } from "@/server/auth/permissions";
import { sessionUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";
import { unreadCount } from "@/server/views/notifications";
import { waitingCount } from "@/server/views/waiting";

export default async function AppLayout({ children }: { children: ReactNode }) {
  // Pages check access themselves (a layout is not re-run on client navigation); this only
  // decides what the navigation shows.
  const user = await sessionUser();
  return (
    <Providers>
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:shadow"
      >
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white">
        <nav
          aria-label="Main"
          className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-3 px-4 py-3 text-sm sm:px-6"
        >
          <Link href="/history" className="flex items-center gap-2 text-base font-semibold">
            {/* biome-ignore lint/performance/noImgElement: a 24 px SVG needs no image pipeline */}
            <img src="/logo.svg" alt="" width={24} height={24} />
            Hyperion
          </Link>
          <HeaderNav
            links={
              <>
                <NavLink href="/history">History</NavLink>
                <NavLink href="/board">Board</NavLink>
                <NavLink href="/requests/new">New request</NavLink>
                {user && can(user.role, "queue.read") && <NavLink href="/queue">Queue</NavLink>}
                {user && can(user.role, "queue.read") && <NavLink href="/runs">Runs</NavLink>}
                {user && can(user.role, "queue.read") && <NavLink href="/metrics">Metrics</NavLink>}
                {user && can(user.role, "change.approve") && (
                  <ApprovalsLink initial={await waitingCount(runtime().db)} />
                )}
                {user && can(user.role, "qa.operate") && <NavLink href="/qa">QA</NavLink>}
                {user && can(user.role, "meta.operate") && <NavLink href="/meta">Meta</NavLink>}
                {user && can(user.role, "queue.operate") && (
                  <AlertsLink initial={await openAlertCount(runtime().db)} />
                )}
                {user && can(user.role, "user.read") && (
                  <NavLink href="/admin/users">Users</NavLink>
                )}
              </>
            }
            aside={
              user && (
                <>
                  <NotificationsLink initial={await unreadCount(runtime().db, user)} />
                  <WorkerStatus />
                  <span className="break-all text-slate-600">
                    {user.email} · {user.role}
                  </span>
                  <SignOutButton />
                </>
              )
            }
          />
        </nav>
      </header>
      {user && can(user.role, "user.manage") && <ConfigBanner />}
      <main
        id="main"
        tabIndex={-1}
        className="mx-auto max-w-6xl px-4 py-8 focus:outline-none sm:px-6"
      >
        {children}
      </main>
    </Providers>
  );
}
