import type { ReactNode } from "react";
import { TableHead } from "./table-head";

/**
 * A data table that becomes a stack of cards under 640 px: one DOM for both, so ids, test ids
 * and rows stay the same; each cell carries its column's name, shown only when stacked.
 */
export const stacked = {
  table: "block w-full text-left text-sm sm:table sm:bg-white",
  tbody: "block space-y-2 sm:table-row-group sm:space-y-0",
  row: "block rounded border border-slate-200 bg-white p-2 sm:table-row sm:rounded-none sm:border-0 sm:border-b sm:p-0",
};

/** The header row, hidden while the rows are stacked (each cell then names its column). */
export function StackedHead({ columns }: { columns: string[] }) {
  return <TableHead columns={columns} className="hidden sm:table-header-group" />;
}

export function Cell({
  label,
  children,
  className = "",
  ...rest
}: {
  label: string;
  children: ReactNode;
  className?: string;
  title?: string;
  "data-testid"?: string;
}) {
  return (
    <td className={`block break-words py-0.5 sm:table-cell sm:p-2 ${className}`} {...rest}>
      <span className="mr-1 text-xs text-slate-500 sm:hidden">{label}:</span>
      {children}
    </td>
  );
}

/** A table's one-line message (nothing to show, nothing matches), stacked or not. */
export function EmptyRow({ colSpan, children }: { colSpan: number; children: ReactNode }) {
  return (
    <tr className="block sm:table-row">
      <td colSpan={colSpan} className="block p-4 text-center text-slate-500 sm:table-cell">
        {children}
      </td>
    </tr>
  );
}
