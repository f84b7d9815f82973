"use client";
import * as Dialog from "@radix-ui/react-dialog";
import type { FormEvent, ReactNode } from "react";
import { DialogActions, DialogError, dialogClasses } from "../dialog";

/** The server's refusal in words: its issues by field, else its message. */
function errorText(err: { message: string; data?: unknown } | null): string {
  if (!err) return "";
  const issues = (err.data as { issues?: { path: string; message: string }[] | null } | undefined)
    ?.issues;
  return issues?.length ? issues.map((i) => `${i.path}: ${i.message}`).join("; ") : err.message;
}

/**
 * The dialog of a reviewer's decision (approve, reject): its trigger, a title, what follows,
 * a form of `children`, the server's refusal and the submit button. Closing it forgets the
 * refusal (`onClosed`).
 */
export function DecisionDialog({
  open,
  onOpenChange,
  onClosed,
  trigger,
  title,
  description,
  onSubmit,
  error,
  submit,
  testId,
  children,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onClosed: () => void;
  trigger: ReactNode;
  title: string;
  description: ReactNode;
  onSubmit: () => void;
  error: { message: string; data?: unknown } | null;
  submit: { label: string; className: string; disabled: boolean };
  testId: string;
  children: ReactNode;
}) {
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        onOpenChange(next);
        if (!next) onClosed();
      }}
    >
      <Dialog.Trigger asChild>{trigger}</Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className={dialogClasses.overlay} />
        <Dialog.Content className={dialogClasses.content} data-testid={`${testId}-dialog`}>
          <Dialog.Title className="text-lg font-semibold">{title}</Dialog.Title>
          <Dialog.Description className="text-slate-700">{description}</Dialog.Description>
          <form
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              onSubmit();
            }}
            className="space-y-3"
          >
            {children}
            <DialogError message={errorText(error)} testId={`${testId}-error`} />
            <DialogActions>
              <button type="submit" className={submit.className} disabled={submit.disabled}>
                {submit.label}
              </button>
            </DialogActions>
          </form>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** The reviewer's words: a comment, or a rejection's reason. */
export function Words({
  name,
  label,
  aside,
  required,
  value,
  onChange,
}: {
  name: string;
  label: string;
  aside: string;
  required: boolean;
  value: string;
  onChange: (next: string) => void;
}) {
  return (
    <label className="block">
      {label} <span className="text-slate-500">({aside})</span>
      <textarea
        name={name}
        rows={3}
        maxLength={4000}
        required={required}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className="mt-1 w-full rounded border px-2 py-1"
      />
    </label>
  );
}
