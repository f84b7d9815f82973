"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { type ReactNode, useEffect, useId, useRef, useState } from "react";

/**
 * The header's navigation: a row of links on a wide screen, a "Menu" button that opens them as
 * a list below 768 px. It is a disclosure (a button with aria-expanded over a region), the
 * pattern WAI-ARIA recommends for site navigation, rather than a menu widget with arrow keys.
 * It closes on navigation and on Escape, giving focus back to its button.
 */
export function HeaderNav({ links, aside }: { links: ReactNode; aside: ReactNode }) {
  const [open, setOpen] = useState(false);
  const pathname = usePathname();
  const id = useId();
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new path is what closes it
  useEffect(() => setOpen(false), [pathname]);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
  return (
    <>
      <button
        ref={button}
        type="button"
        className="ml-auto inline-flex items-center gap-2 rounded border border-slate-300 px-3 py-1.5 text-sm md:hidden"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((o) => !o)}
        data-testid="menu-button"
      >
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 16 16" fill="currentColor">
          {open ? (
            <path d="M3.7 2.3 8 6.6l4.3-4.3 1.4 1.4L9.4 8l4.3 4.3-1.4 1.4L8 9.4l-4.3 4.3-1.4-1.4L6.6 8 2.3 3.7z" />
          ) : (
            <path d="M1 3h14v2H1zm0 4h14v2H1zm0 4h14v2H1z" />
          )}
        </svg>
        Menu
      </button>
      <div
        id={id}
        className={`${open ? "flex" : "hidden"} w-full flex-col gap-3 border-t border-slate-200 pt-3 md:flex md:w-auto md:flex-1 md:flex-row md:items-center md:gap-6 md:border-0 md:pt-0`}
        data-testid="main-menu"
      >
        {links}
        <div className="flex flex-col gap-2 md:ml-auto md:flex-row md:flex-wrap md:items-center md:gap-x-4 md:gap-y-1">
          {aside}
        </div>
      </div>
    </>
  );
}

/** A header link that says which page is open (aria-current) and shows it. */
export function NavLink({ href, children }: { href: string; children: ReactNode }) {
  const pathname = usePathname();
  const current = pathname === href || pathname.startsWith(`${href}/`);
  return (
    <Link
      href={href}
      aria-current={current ? "page" : undefined}
      className={`py-1 hover:underline md:py-0 ${current ? "font-semibold text-slate-900 underline decoration-2 underline-offset-4" : ""}`}
    >
      {children}
    </Link>
  );
}
