"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, useMemo, useState } from "react";
import { formIssues, humanMessages } from "@/schemas/form-messages";
import { requestRef } from "@/schemas/ids";
import { priorities, taskRequestFor } from "@/schemas/task-request";
import { ErrorSummary, serverMessages } from "../form-field";
import { useTRPC } from "../trpc";
import * as Field from "./fields";
import { type NewFileAsk, NewFilesDialog, newFilesToAsk } from "./new-files-dialog";

/** Builds the TaskRequest from the form; values stay as typed so validation reports them. */
function readForm(form: FormData): Record<string, unknown> {
  return {
    title: String(form.get("title") ?? ""),
    description: String(form.get("description") ?? ""),
    repo: String(form.get("repo") ?? ""),
    ...Field.readKind(form),
    priority: String(form.get("priority") ?? "normal"),
    areas: Field.readAreas(form),
    files: Field.readLines(form, "files"),
    dependsOn: form
      .getAll("dependsOn")
      .map(String)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
    acceptance: Field.readLines(form, "acceptance"),
    checks: Field.readChecks(form),
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
  checks: string[];
};

/**
 * A configured repository; `areas` is null when it has no policy (any area name is taken);
 * `checks` are its policy's named checks, which a request may ask to run.
 */
export type RepoChoice = { name: string; areas: string[] | null; checks: Field.CheckChoice[] };
/** A request the new one may depend on (same repository only). */
export type DependencyChoice = { id: number; title: string; repo: string };

/** The repository picked, and the areas and requests picked in it: they follow the repository. */
function useRepoChoice(
  repos: RepoChoice[],
  requests: DependencyChoice[],
  initial?: RequestFormInitial,
) {
  const [repo, setRepo] = useState(initial?.repo ?? repos[0]?.name ?? "");
  const [areas, setAreas] = useState<string[]>(initial?.areas ?? []);
  const [dependsOn, setDependsOn] = useState<string[]>((initial?.dependsOn ?? []).map(String));
  const [checks, setChecks] = useState<string[]>(initial?.checks ?? []);

  function changeRepo(next: string) {
    setRepo(next);
    // Areas and dependencies belong to one repository: keep only what the new one offers.
    const nextAreas = repos.find((r) => r.name === next)?.areas;
    if (nextAreas) setAreas((picked) => picked.filter((a) => nextAreas.includes(a)));
    const ofNext = new Set(requests.filter((r) => r.repo === next).map((r) => String(r.id)));
    setDependsOn((picked) => picked.filter((d) => ofNext.has(d)));
    // Checks are the repository policy's own: keep only those the new one names too.
    const nextChecks = new Set(repos.find((r) => r.name === next)?.checks.map((c) => c.name));
    setChecks((picked) => picked.filter((c) => nextChecks.has(c)));
  }

  return {
    repo,
    changeRepo,
    repoAreas: repos.find((r) => r.name === repo)?.areas ?? null,
    repoChecks: repos.find((r) => r.name === repo)?.checks ?? [],
    checks,
    setChecks,
    areas,
    setAreas,
    dependsOn,
    setDependsOn,
    // Any repository's: another's is named, and this one waits until it lands.
    dependencyOptions: requests.map((r) => ({
      value: String(r.id),
      label: `${requestRef(r.id)} ${r.title}${r.repo === repo ? "" : ` (${r.repo})`}`,
    })),
  };
}

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
  const form = Field.useForm("new-request", Field.roomy, "error-");
  const choice = useRepoChoice(repos, requests, initial);
  const { repo, repoAreas } = choice;
  const schema = useMemo(() => taskRequestFor(repos.map((r) => r.name)), [repos]);
  // Files the repository lacks, asked about before filing, and the request that named them.
  const [asking, setAsking] = useState<{
    files: NewFileAsk[];
    value: Record<string, unknown>;
    messages: Awaited<ReturnType<typeof serverMessages>>;
  } | null>(null);

  const create = useMutation(
    trpc.request.create.mutationOptions({
      onSuccess: (created) => {
        const first = created[0];
        router.push(first ? `/requests/${first.id}?filed=1` : "/history");
      },
    }),
  );

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
    file(value);
  }

  function file(value: Record<string, unknown>) {
    create.mutate(value as Parameters<typeof create.mutate>[0], {
      onError: (err) => {
        const files = newFilesToAsk(err.data?.issues);
        if (files && !value.allowNewFiles)
          setAsking({ files, value, messages: serverMessages(err, value) });
        else form.show(serverMessages(err, value));
      },
    });
  }

  return (
    <form
      ref={form.formRef}
      onSubmit={onSubmit}
      className="max-w-2xl space-y-5"
      noValidate
      data-testid="request-form"
    >
      <ErrorSummary
        errors={form.errors}
        fieldId={form.id}
        summaryRef={form.summaryRef}
        testId="error-summary"
      />
      <Field.Text form={form} name="title" label="Title" defaultValue={initial?.title} />
      <Field.TextArea
        form={form}
        name="description"
        label="Description"
        aside="markdown"
        rows={6}
        defaultValue={initial?.description}
      />
      <div className="grid gap-4 sm:grid-cols-3">
        <Field.Select
          form={form}
          name="repo"
          label="Repository"
          options={Field.named(repos.map((r) => r.name))}
          value={repo}
          onChange={choice.changeRepo}
        />
        <Field.Kind form={form} unset="infer" defaultValue={initial?.kind ?? ""} />
        <Field.Select
          form={form}
          name="priority"
          label="Priority"
          options={Field.named(priorities)}
          defaultValue={initial?.priority ?? "normal"}
        />
      </div>
      <Field.Areas
        form={form}
        aside="optional"
        hint={
          repoAreas
            ? `The areas of ${repo}: type to filter, Enter to pick, Backspace to remove.`
            : `${repo} has no policy: type an area name and press Enter.`
        }
        areas={repoAreas}
        value={choice.areas}
        onChange={choice.setAreas}
      />
      <Field.TextArea
        form={form}
        name="files"
        label="Files"
        aside="one repo-relative path per line"
        rows={3}
        mono
        defaultValue={initial?.files}
      />
      <Field.Picker
        form={form}
        name="dependsOn"
        noun="request"
        label="Depends on"
        aside="optional"
        hint="Requests that must land first, in this repository or another: type an id or words of the title."
        options={choice.dependencyOptions}
        value={choice.dependsOn}
        onChange={choice.setDependsOn}
      />
      <Field.TextArea
        form={form}
        name="acceptance"
        label="Acceptance criteria"
        aside="optional, one per line"
        hint="What done looks like, in words, for the agent. Nothing written here runs: pick the checks to run below."
        rows={3}
        defaultValue={initial?.acceptance}
      />
      <Field.CheckBoxes
        form={form}
        repo={repo}
        checks={choice.repoChecks}
        value={choice.checks}
        onChange={choice.setChecks}
      />
      <button
        type="submit"
        disabled={create.isPending}
        className="rounded bg-slate-900 px-4 py-2 font-medium text-white disabled:opacity-60"
      >
        {create.isPending ? "Filing…" : "File request"}
      </button>
      <NewFilesDialog
        files={asking?.files ?? null}
        pending={create.isPending}
        onCreate={() => {
          if (!asking) return;
          const value = { ...asking.value, allowNewFiles: true };
          setAsking(null);
          file(value);
        }}
        onBack={() => {
          // Back to the form, the paths marked on Files so the typo is easy to find.
          if (asking) form.show(asking.messages);
          setAsking(null);
        }}
      />
    </form>
  );
}
