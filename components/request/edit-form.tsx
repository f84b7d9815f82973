"use client";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { formIssues, humanMessages } from "@/schemas/form-messages";
import { requestRef } from "@/schemas/ids";
import { TaskRequest } from "@/schemas/task-request";
import type { RequestDetail } from "@/server/views/request-detail";
import { ErrorSummary, serverMessages } from "../form-field";
import { useTRPC } from "../trpc";
import * as Field from "./fields";

type Request = RequestDetail["request"];

/** Reads the edit as typed: the fields shown replace the old ones. */
function readEdit(data: FormData) {
  return {
    title: String(data.get("title") ?? ""),
    description: String(data.get("description") ?? ""),
    files: Field.readLines(data, "files"),
    areas: Field.readAreas(data),
    acceptance: Field.readLines(data, "acceptance"),
    ...Field.readKind(data),
  };
}

/** Edit a waiting request: the fields shown replace the old ones, then it is planned again. */
export function EditRequest({
  id,
  request,
  areas,
  onDone,
  label = "Edit request…",
}: {
  id: number;
  request: Request;
  areas: string[];
  onDone: () => void;
  /** The button's words ("Edit and plan again…" on a failed request). */
  label?: string;
}) {
  const [open, setOpen] = useState(false);
  if (!open)
    return (
      <button
        type="button"
        className="rounded border bg-white px-3 py-1 text-sm"
        onClick={() => setOpen(true)}
        data-testid="edit-request"
      >
        {label}
      </button>
    );
  return (
    <EditForm
      id={id}
      request={request}
      areas={areas}
      onClose={() => setOpen(false)}
      onSaved={() => {
        setOpen(false);
        onDone();
      }}
    />
  );
}

function EditForm({
  id,
  request,
  areas,
  onClose,
  onSaved,
}: {
  id: number;
  request: Request;
  areas: string[];
  onClose: () => void;
  onSaved: () => void;
}) {
  const trpc = useTRPC();
  const form = Field.useForm("edit", Field.compact, "edit-error-");
  const edit = useMutation(trpc.request.edit.mutationOptions({ onSuccess: onSaved }));
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const value = readEdit(new FormData(e.currentTarget));
    // As the server does: the filing rules on the request as it would be after the edit.
    const local = TaskRequest.safeParse({
      ...value,
      repo: request.repo,
      priority: request.priority,
      dependsOn: request.dependsOn,
    });
    if (!local.success) {
      form.show(humanMessages(formIssues(local.error), value));
      return;
    }
    form.clear();
    edit.mutate({ id, edit: value }, { onError: (err) => form.show(serverMessages(err, value)) });
  }
  return (
    <form
      ref={form.formRef}
      onSubmit={onSubmit}
      noValidate
      className="space-y-2 rounded border bg-white p-4 text-sm"
      data-testid="edit-form"
    >
      <h2 className="font-semibold">Edit request {requestRef(id)}</h2>
      <p className="text-slate-600">
        What you save replaces the request as filed, and the Engineer scopes it again.
        {request.status === "failed" &&
          " Its failed tasks are replaced by the new plan; what already landed stays."}
      </p>
      <ErrorSummary errors={form.errors} fieldId={form.id} summaryRef={form.summaryRef} />
      <Field.Text form={form} name="title" label="Title" defaultValue={request.title} />
      <Field.TextArea
        form={form}
        name="description"
        label="Description"
        rows={4}
        defaultValue={request.description}
      />
      <Field.Kind
        form={form}
        unset="(let the Engineer infer it)"
        defaultValue={request.kind ?? ""}
      />
      <Field.AreaBoxes form={form} areas={areas} checked={request.areas} />
      <Field.TextArea
        form={form}
        name="files"
        label="Files (one per line)"
        rows={2}
        mono
        defaultValue={request.files.join("\n")}
      />
      <Field.TextArea
        form={form}
        name="acceptance"
        label="Acceptance criteria (one per line)"
        rows={2}
        defaultValue={request.acceptance.join("\n")}
      />
      <div className="flex flex-wrap gap-2">
        <button
          type="submit"
          className="rounded bg-slate-900 px-3 py-1 text-white"
          disabled={edit.isPending}
        >
          Save and plan again
        </button>
        <button type="button" className="rounded border px-3 py-1" onClick={onClose}>
          Close without saving
        </button>
      </div>
    </form>
  );
}
