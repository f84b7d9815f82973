"use client";
import { useCallback, useEffect, useRef, useState } from "react";
import { type FieldMessage, humanMessages, messagesByField } from "@/schemas/form-messages";
import type { FieldIssue } from "@/schemas/issues";

/**
 * What the request, edit and answer forms share: errors kept by field, each field pointing at its
 * message (aria-invalid, aria-describedby), a summary at the top that links to the fields, and
 * focus on the first invalid field after a submit that failed.
 */
export type FieldErrors = Record<string, string[]>;

const errorId = (fieldId: string) => `${fieldId}-error`;

/** A failed mutation's problems: the server's issues by field, else its message for the form. */
export function serverMessages(
  err: { message: string; data?: { issues?: FieldIssue[] | null } | null },
  values: Record<string, unknown>,
): FieldMessage[] {
  const issues = err.data?.issues;
  return issues?.length ? humanMessages(issues, values) : [{ field: "form", message: err.message }];
}

export function useFieldErrors(prefix: string) {
  const formRef = useRef<HTMLFormElement>(null);
  const summaryRef = useRef<HTMLDivElement>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  // Bumped on each failed submit so focus moves again even when the errors are the same.
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!round) return;
    const first = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    (first ?? summaryRef.current)?.focus();
  }, [round]);

  const show = useCallback((messages: FieldMessage[]) => {
    setErrors(messagesByField(messages));
    setRound((r) => r + 1);
  }, []);
  const clear = useCallback(() => setErrors({}), []);
  const id = (field: string) => `${prefix}-${field}`;
  /** The attributes that tie a field to its error; `hint` is the id of help text, if any. */
  const aria = (field: string, hint?: string) => {
    const invalid = Boolean(errors[field]?.length);
    const describedBy = [invalid ? errorId(id(field)) : undefined, hint].filter(Boolean).join(" ");
    return {
      id: id(field),
      "aria-invalid": invalid ? (true as const) : undefined,
      "aria-describedby": describedBy || undefined,
    };
  };
  return { formRef, summaryRef, errors, show, clear, id, aria };
}

/** A form's errors and the ids that tie each field to them. */
export type FieldErrorsForm = Awaited<ReturnType<typeof useFieldErrors>>;

/** The messages under one field; its id is what the field's aria-describedby names. */
export function FieldError({
  fieldId,
  messages,
  testId,
}: {
  fieldId: string;
  messages?: string[];
  testId?: string;
}) {
  if (!messages?.length) return null;
  return (
    <div
      id={errorId(fieldId)}
      data-testid={testId}
      className="mt-1 text-sm text-red-700 [overflow-wrap:anywhere]"
    >
      {messages.map((m) => (
        <p key={m}>{m}</p>
      ))}
    </div>
  );
}

/** Every problem of the last submit, each a link that moves focus to its field. */
export function ErrorSummary({
  errors,
  fieldId,
  summaryRef,
  testId,
}: {
  errors: FieldErrors;
  fieldId: (field: string) => string;
  summaryRef: React.RefObject<HTMLDivElement | null>;
  testId?: string;
}) {
  const entries = Object.entries(errors).flatMap(([field, messages]) =>
    messages.map((message) => ({ field, message })),
  );
  if (!entries.length) return null;
  return (
    <div
      ref={summaryRef}
      role="alert"
      tabIndex={-1}
      data-testid={testId}
      className="rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900 [overflow-wrap:anywhere]"
    >
      <p className="font-medium">
        {entries.length === 1 ? "One thing to fix:" : `${entries.length} things to fix:`}
      </p>
      <ul className="mt-1 list-disc space-y-0.5 pl-5">
        {entries.map(({ field, message }) => (
          <li key={`${field}\n${message}`}>
            {field === "form" ? (
              message
            ) : (
              <a
                href={`#${fieldId(field)}`}
                className="underline"
                onClick={(e) => {
                  const target = document.getElementById(fieldId(field));
                  if (!target) return;
                  e.preventDefault();
                  target.focus();
                }}
              >
                {message}
              </a>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
