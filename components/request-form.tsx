"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, useMemo, useState } from "react";
import { formIssues, humanMessages } from "@/schemas/form-messages";
import { requestRef } from "@/schemas/ids";
import { priorities, requestKinds, taskRequestFor } from "@/schemas/task-request";
import { ErrorSummary, FieldError, serverMessages, useFieldErrors } from "./form-field";
import { Picker } from "./picker";
import { useTRPC } from "./trpc";

const lines = (v: FormDataEntryValue | null) =>
  String(v ?? "")
    .split(/\r?\n/)
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
    areas: form.getAll("areas").map(String),
    files: lines(form.get("files")),
    dependsOn: form
      .getAll("dependsOn")
      .map(String)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
    acceptance: lines(form.get("acceptance")),
  };
}

export type RequestFormInitial = {
  title: string;
  description: string;
  repo: string;
  kind: string;
  priority: string;
  areas: string[];
  files: string;
  dependsOn: number[];
  acceptance: string;
};

/** A configured repository; `areas` is null when it has no policy (any area name is taken). */
export type RepoChoice = { name: string; areas: string[] | null };
/** A request the new one may depend on (same repository only). */
export type DependencyChoice = { id: number; title: string; repo: string };

export function RequestForm({
  repos,
  requests,
  initial,
}: {
  repos: RepoChoice[];
  requests: DependencyChoice[];
  initial?: RequestFormInitial;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const form = useFieldErrors("new-request");
  const { errors, aria, id } = form;
  const [repo, setRepo] = useState(initial?.repo ?? repos[0]?.name ?? "");
  const [areas, setAreas] = useState<string[]>(initial?.areas ?? []);
  const [dependsOn, setDependsOn] = useState<string[]>((initial?.dependsOn ?? []).map(String));
  const schema = useMemo(() => taskRequestFor(repos.map((r) => r.name)), [repos]);
  const repoAreas = repos.find((r) => r.name === repo)?.areas ?? null;
  const areaOptions = (repoAreas ?? []).map((a) => ({ value: a, label: a }));
  const dependencyOptions = requests
    .filter((r) => r.repo === repo)
    .map((r) => ({ value: String(r.id), label: `${requestRef(r.id)} ${r.title}` }));

  const create = useMutation(
    trpc.request.create.mutationOptions({
      onSuccess: (created) => {
        const first = created[0];
        router.push(first ? `/requests/${first.id}?filed=1` : "/history");
      },
    }),
  );

  function changeRepo(next: string) {
    setRepo(next);
    // Areas and dependencies belong to one repository: keep only what the new one offers.
    const nextAreas = repos.find((r) => r.name === next)?.areas;
    if (nextAreas) setAreas((picked) => picked.filter((a) => nextAreas.includes(a)));
    const ofNext = new Set(requests.filter((r) => r.repo === next).map((r) => String(r.id)));
    setDependsOn((picked) => picked.filter((d) => ofNext.has(d)));
  }

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const value = readForm(new FormData(e.currentTarget));
    // The schema the server applies, all of it at once; the server still checks what only it
    // knows (that the requests depended on exist), and its issues land on the fields the same way.
    const local = schema.safeParse(value);
    if (!local.success) {
      form.show(humanMessages(formIssues(local.error), value));
      return;
    }
    form.clear();
    create.mutate(value as Parameters<typeof create.mutate>[0], {
      onError: (err) => form.show(serverMessages(err, value)),
    });
  }

  const input = "mt-1 w-full rounded border border-slate-300 px-3 py-2 font-normal";
  const invalidInput = (field: string) => (errors[field] ? " border-red-600" : "");
  const label = "block text-sm font-medium";
  const error = (field: string) => (
    <FieldError fieldId={id(field)} messages={errors[field]} testId={`error-${field}`} />
  );

  return (
    <form
      ref={form.formRef}
      onSubmit={onSubmit}
      className="max-w-2xl space-y-5"
      noValidate
      data-testid="request-form"
    >
      <ErrorSummary
        errors={errors}
        fieldId={id}
        summaryRef={form.summaryRef}
        testId="error-summary"
      />
      <div>
        <label htmlFor={id("title")} className={label}>
          Title
        </label>
        <input
          name="title"
          className={input + invalidInput("title")}
          defaultValue={initial?.title}
          {...aria("title")}
        />
        {error("title")}
      </div>
      <div>
        <label htmlFor={id("description")} className={label}>
          Description <span className="font-normal text-slate-500">(markdown)</span>
        </label>
        <textarea
          name="description"
          rows={6}
          className={input + invalidInput("description")}
          defaultValue={initial?.description}
          {...aria("description")}
        />
        {error("description")}
      </div>
      <div className="grid gap-4 sm:grid-cols-3">
        <div>
          <label htmlFor={id("repo")} className={label}>
            Repository
          </label>
          <select
            name="repo"
            className={input + invalidInput("repo")}
            value={repo}
            onChange={(e) => changeRepo(e.target.value)}
            {...aria("repo")}
          >
            {repos.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
              </option>
            ))}
          </select>
          {error("repo")}
        </div>
        <div>
          <label htmlFor={id("kind")} className={label}>
            Kind
          </label>
          <select
            name="kind"
            className={input + invalidInput("kind")}
            defaultValue={initial?.kind ?? ""}
            {...aria("kind")}
          >
            <option value="">infer</option>
            {requestKinds.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
          {error("kind")}
        </div>
        <div>
          <label htmlFor={id("priority")} className={label}>
            Priority
          </label>
          <select
            name="priority"
            className={input + invalidInput("priority")}
            defaultValue={initial?.priority ?? "normal"}
            {...aria("priority")}
          >
            {priorities.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
          {error("priority")}
        </div>
      </div>
      <div>
        <Picker
          id={id("areas")}
          name="areas"
          noun="area"
          label={
            <>
              Areas <span className="font-normal text-slate-500">(optional)</span>
            </>
          }
          hint={
            repoAreas
              ? `The areas of ${repo}: type to filter, Enter to pick, Backspace to remove.`
              : `${repo} has no policy: type an area name and press Enter.`
          }
          options={areaOptions}
          allowCustom={!repoAreas}
          value={areas}
          onChange={setAreas}
          invalid={Boolean(errors.areas)}
          describedBy={aria("areas")["aria-describedby"]}
        />
        {error("areas")}
      </div>
      <div>
        <label htmlFor={id("files")} className={label}>
          Files{" "}
          <span className="font-normal text-slate-500">(one repo-relative path per line)</span>
        </label>
        <textarea
          name="files"
          rows={3}
          className={`${input} font-mono${invalidInput("files")}`}
          defaultValue={initial?.files}
          {...aria("files")}
        />
        {error("files")}
      </div>
      <div>
        <Picker
          id={id("dependsOn")}
          name="dependsOn"
          noun="request"
          label={
            <>
              Depends on <span className="font-normal text-slate-500">(optional)</span>
            </>
          }
          hint={`Requests in ${repo} that must land first: type an id or words of the title.`}
          options={dependencyOptions}
          value={dependsOn}
          onChange={setDependsOn}
          invalid={Boolean(errors.dependsOn)}
          describedBy={aria("dependsOn")["aria-describedby"]}
        />
        {error("dependsOn")}
      </div>
      <div>
        <label htmlFor={id("acceptance")} className={label}>
          Acceptance checks{" "}
          <span className="font-normal text-slate-500">(one command per line)</span>
        </label>
        <textarea
          name="acceptance"
          rows={2}
          className={`${input} font-mono${invalidInput("acceptance")}`}
          defaultValue={initial?.acceptance}
          {...aria("acceptance")}
        />
        {error("acceptance")}
      </div>
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
