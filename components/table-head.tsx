/** The header row every data table shares. */
export function TableHead({ columns }: { columns: string[] }) {
  return (
    <thead className="border-b text-slate-500">
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
