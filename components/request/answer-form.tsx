"use client";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ErrorSummary, serverMessages } from "../form-field";
import { useTRPC } from "../trpc";
import * as Field from "./fields";

/** Reads the answer as typed; the server checks it (server/requests/answer.ts). */
function readAnswer(data: FormData) {
  return {
    files: Field.readLines(data, "files"),
    areas: Field.readAreas(data),
    note: String(data.get("note") ?? "") || undefined,
    ...Field.readKind(data),
  };
}

/**
 * The answer to the Engineer's question, or a re-scope when it came back: files, areas, kind
 * and a note; then the request is planned again. `areas` are the repository's (none: any name).
 */
export function AnswerForm({
  id,
  areas,
  onDone,
}: {
  id: number;
  areas: string[];
  onDone: () => void;
}) {
  const trpc = useTRPC();
  const form = Field.useForm("answer", Field.compact, "answer-error-");
  const [picked, setPicked] = useState<string[]>([]);
  const answer = useMutation(trpc.request.answer.mutationOptions({ onSuccess: onDone }));
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const value = readAnswer(new FormData(e.currentTarget));
    form.clear();
    // The answer's rules are the server's (server/requests/answer.ts); it reports them all at once.
    answer.mutate(
      { id, answer: value },
      { onError: (err) => form.show(serverMessages(err, value)) },
    );
  }
  return (
    <form
      ref={form.formRef}
      onSubmit={onSubmit}
      noValidate
      className="mt-3 space-y-2 text-sm"
      data-testid="answer-form"
    >
      <ErrorSummary errors={form.errors} fieldId={form.id} summaryRef={form.summaryRef} />
      <Field.TextArea form={form} name="files" label="Files (one per line)" rows={2} mono />
      <Field.Areas
        form={form}
        hint={areas.length ? "Type to filter, Enter to pick, Backspace to remove." : undefined}
        areas={areas.length ? areas : null}
        value={picked}
        onChange={setPicked}
      />
      <Field.Kind form={form} unset="(keep)" defaultValue="" />
      <Field.Text form={form} name="note" label="Note" />
      <button
        type="submit"
        className="rounded bg-slate-900 px-3 py-1 text-white"
        disabled={answer.isPending}
      >
        Answer and plan again
      </button>
    </form>
  );
}
