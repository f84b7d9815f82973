/** The header row every data table shares. */
export function TableHead({ columns, className = "" }: { columns: string[]; className?: string }) {
  return (
    <thead className={`border-b text-slate-500 ${className}`}>
      <tr>
        {columns.map((c) => (
          <th key={c} className="p-2">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}
