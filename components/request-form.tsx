"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import { type FieldIssue, fieldIssues } from "@/schemas/issues";
import { priorities, requestKinds, TaskRequest } from "@/schemas/task-request";
import { useTRPC } from "./trpc";

const lines = (v: FormDataEntryValue | null) =>
  String(v ?? "")
    .split(/\r?\n|,/)
    .map((s) => s.trim())
    .filter(Boolean);

/** Builds the TaskRequest from the form; values stay as typed so validation reports them. */
function readForm(form: FormData): Record<string, unknown> {
  const kind = String(form.get("kind") ?? "");
  return {
    title: String(form.get("title") ?? ""),
    description: String(form.get("description") ?? ""),
    repo: String(form.get("repo") ?? ""),
    ...(kind ? { kind } : {}),
    priority: String(form.get("priority") ?? "normal"),
    areas: lines(form.get("areas")),
    files: String(form.get("files") ?? "")
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean),
    dependsOn: lines(form.get("dependsOn")).map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
    acceptance: String(form.get("acceptance") ?? "")
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

function byField(issues: FieldIssue[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of issues) {
    const field = issue.path.split(/[.[]/)[0] || "form";
    const label = issue.path === field ? issue.message : `${issue.path}: ${issue.message}`;
    out[field] = [...(out[field] ?? []), label];
  }
  return out;
}

export type RequestFormInitial = {
  title: string;
  description: string;
  repo: string;
  kind: string;
  priority: string;
  areas: string;
  files: string;
  acceptance: string;
};

export function RequestForm({ repos, initial }: { repos: string[]; initial?: RequestFormInitial }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const create = useMutation(
    trpc.request.create.mutationOptions({
      onSuccess: (created) => {
        const first = created[0];
        router.push(first ? `/requests/${first.id}?filed=1` : "/history");
      },
      onError: (err) => {
        const issues = err.data?.issues;
        setErrors(issues?.length ? byField(issues) : { form: [err.message] });
      },
    }),
  );

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const value = readForm(new FormData(e.currentTarget));
    // The same schema the server applies; the server still checks what only it can know.
    const local = TaskRequest.safeParse(value);
    if (!local.success) {
      setErrors(byField(fieldIssues(local.error)));
      return;
    }
    setErrors({});
    create.mutate(value as Parameters<typeof create.mutate>[0]);
  }

  const err = (field: string) =>
    errors[field]?.map((m) => (
      <p key={m} className="mt-1 text-sm text-red-700" data-testid={`error-${field}`}>
        {m}
      </p>
    ));
  const input = "mt-1 w-full rounded border border-slate-300 px-3 py-2 font-normal";

  return (
    <form onSubmit={onSubmit} className="max-w-2xl space-y-5" noValidate>
      <label className="block text-sm font-medium">
        Title
        <input
          name="title"
          className={input}
          maxLength={400}
          aria-invalid={!!errors.title}
          defaultValue={initial?.title}
        />
        {err("title")}
      </label>
      <label className="block text-sm font-medium">
        Description <span className="font-normal text-slate-500">(markdown)</span>
        <textarea
          name="description"
          rows={6}
          className={input}
          defaultValue={initial?.description}
        />
        {err("description")}
      </label>
      <div className="grid grid-cols-3 gap-4">
        <label className="block text-sm font-medium">
          Repository
          <select name="repo" className={input} defaultValue={initial?.repo ?? repos[0]}>
            {repos.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          {err("repo")}
        </label>
        <label className="block text-sm font-medium">
          Kind
          <select name="kind" className={input} defaultValue={initial?.kind ?? ""}>
            <option value="">infer</option>
            {requestKinds.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
          {err("kind")}
        </label>
        <label className="block text-sm font-medium">
          Priority
          <select name="priority" className={input} defaultValue={initial?.priority ?? "normal"}>
            {priorities.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
          {err("priority")}
        </label>
      </div>
      <label className="block text-sm font-medium">
        Areas <span className="font-normal text-slate-500">(comma-separated, optional)</span>
        <input name="areas" className={input} defaultValue={initial?.areas} />
        {err("areas")}
      </label>
      <label className="block text-sm font-medium">
        Files <span className="font-normal text-slate-500">(one repo-relative path per line)</span>
        <textarea
          name="files"
          rows={3}
          className={`${input} font-mono`}
          defaultValue={initial?.files}
        />
        {err("files")}
      </label>
      <label className="block text-sm font-medium">
        Depends on{" "}
        <span className="font-normal text-slate-500">(request ids, comma-separated)</span>
        <input name="dependsOn" className={input} />
        {err("dependsOn")}
      </label>
      <label className="block text-sm font-medium">
        Acceptance checks <span className="font-normal text-slate-500">(one command per line)</span>
        <textarea
          name="acceptance"
          rows={2}
          className={`${input} font-mono`}
          defaultValue={initial?.acceptance}
        />
        {err("acceptance")}
      </label>
      {err("form")}
      <button
        type="submit"
        disabled={create.isPending}
        className="rounded bg-slate-900 px-4 py-2 font-medium text-white disabled:opacity-60"
      >
        {create.isPending ? "Filing…" : "File request"}
      </button>
    </form>
  );
}
