import type { RequestDetail } from "@/server/views/request-detail";

type Task = RequestDetail["tasks"][number];

const fill: Record<string, string> = {
  pending: "#e2e8f0",
  claimed: "#ddd6fe",
  submitted: "#c7d2fe",
  done: "#bbf7d0",
  failed: "#fecaca",
  triage: "#fde68a",
  superseded: "#f1f5f9",
};

/** The task graph, drawn in layers: a task sits one column right of its deepest dependency. */
export function TaskGraph({ tasks }: { tasks: Task[] }) {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const depth = new Map<string, number>();
  const depthOf = (t: Task, seen = new Set<string>()): number => {
    const known = depth.get(t.id);
    if (known !== undefined) return known;
    if (seen.has(t.id)) return 0;
    seen.add(t.id);
    const d =
      Math.max(
        -1,
        ...t.dependsOn.map((id) => {
          const dep = byId.get(id);
          return dep ? depthOf(dep, seen) : -1;
        }),
      ) + 1;
    depth.set(t.id, d);
    return d;
  };
  const columns: Task[][] = [];
  for (const t of tasks) {
    const d = depthOf(t);
    columns[d] = [...(columns[d] ?? []), t];
  }
  const W = 190;
  const H = 64;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => {
    col.forEach((t, r) => {
      pos.set(t.id, { x: 10 + c * (W + 50), y: 10 + r * (H + 20) });
    });
  });
  const width = 20 + columns.length * (W + 50);
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + 20);
  return (
    <svg
      width={width}
      height={height}
      role="img"
      aria-label="task graph"
      data-testid="task-graph"
      className="rounded bg-white"
    >
      {tasks.flatMap((t) =>
        t.dependsOn.map((d) => {
          const a = pos.get(d);
          const b = pos.get(t.id);
          if (!a || !b) return null;
          return (
            <line
              key={`${d}-${t.id}`}
              x1={a.x + W}
              y1={a.y + H / 2}
              x2={b.x}
              y2={b.y + H / 2}
              stroke="#64748b"
              markerEnd="url(#arrow)"
            />
          );
        }),
      )}
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="10"
          refY="5"
          markerWidth="6"
          markerHeight="6"
          orient="auto"
        >
          <path d="M0,0 L10,5 L0,10 z" fill="#64748b" />
        </marker>
      </defs>
      {tasks.map((t) => {
        const p = pos.get(t.id) ?? { x: 0, y: 0 };
        return (
          <g
            key={t.id}
            transform={`translate(${p.x},${p.y})`}
            data-testid="graph-node"
            data-state={t.state}
          >
            <rect width={W} height={H} rx={6} fill={fill[t.state] ?? "#e2e8f0"} stroke="#475569" />
            <text x={8} y={18} fontSize={12} fontWeight={600}>
              {t.id} · {t.area}
            </text>
            <text x={8} y={36} fontSize={11}>
              {t.state}
            </text>
            <text x={8} y={52} fontSize={10} fill="#475569">
              {t.neededFiles.slice(0, 2).join(", ")}
              {t.neededFiles.length > 2 ? ` +${t.neededFiles.length - 2}` : ""}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
