"use client";
import * as Dialog from "@radix-ui/react-dialog";
import { type ReactNode, useState } from "react";

/**
 * The dialogs of every destructive or irreversible step (approve, reject, roll back, reset a
 * password, disable a user), on Radix's accessible primitive: focus trapped and given back,
 * Escape closes, the title names the dialog.
 */
export const dialogClasses = {
  overlay: "fixed inset-0 z-40 bg-slate-900/40",
  content:
    "fixed top-1/2 left-1/2 z-50 w-[min(36rem,calc(100vw-2rem))] -translate-x-1/2 -translate-y-1/2 space-y-3 rounded-lg bg-white p-5 text-sm shadow-xl focus:outline-none",
};

/** The server's refusal, inside the dialog that caused it. */
export function DialogError({ message, testId }: { message: string | undefined; testId?: string }) {
  if (!message) return null;
  return (
    <p role="alert" className="text-red-700" data-testid={testId}>
      {message}
    </p>
  );
}

/**
 * The button that closes without acting ("Cancel", or `dismiss` where "Cancel" would read as the
 * action itself, e.g. beside "Cancel the request"), then the dialog's own confirming button.
 */
export function DialogActions({
  children,
  dismiss = "Cancel",
}: {
  children: ReactNode;
  dismiss?: string;
}) {
  return (
    <div className="flex flex-wrap justify-end gap-2">
      <Dialog.Close asChild>
        <button type="button" className="rounded border px-3 py-1">
          {dismiss}
        </button>
      </Dialog.Close>
      {children}
    </div>
  );
}

/**
 * A button that opens a dialog saying what will happen; its confirming button does it. When
 * `onConfirm` returns a promise the dialog closes once it resolves, and stays open (showing
 * `error`) when it rejects.
 */
export function ConfirmDialog({
  trigger,
  title,
  description,
  children,
  confirm,
  dismiss,
  onConfirm,
  onDone,
  pending,
  pendingLabel,
  error,
  open,
  onOpenChange,
  danger = false,
  testId,
}: {
  /** Left out when the caller opens the dialog itself (`open`), e.g. from a select's change. */
  trigger?: ReactNode;
  title: string;
  description: ReactNode;
  children?: ReactNode;
  confirm: string;
  /** The closing button's words; "Cancel" unless that would clash with `confirm`. */
  dismiss?: string;
  onConfirm: () => unknown;
  /**
   * Called once the dialog has closed after `onConfirm`'s promise resolved: the place for a
   * toast, which a screen reader would not hear while the modal dialog hides the rest of the page.
   */
  onDone?: () => void;
  pending: boolean;
  pendingLabel?: string;
  error: string | undefined;
  open?: boolean;
  onOpenChange?: (open: boolean) => void;
  danger?: boolean;
  testId?: string;
}) {
  const [own, setOwn] = useState(false);
  const isOpen = open ?? own;
  const setOpen = onOpenChange ?? setOwn;
  const confirmNow = async () => {
    try {
      const done = onConfirm();
      if (done instanceof Promise) {
        await done;
        setOpen(false);
        onDone?.();
      }
    } catch {
      // The caller's mutation holds the error; the dialog shows it and stays open.
    }
  };
  return (
    <Dialog.Root open={isOpen} onOpenChange={setOpen}>
      {trigger && <Dialog.Trigger asChild>{trigger}</Dialog.Trigger>}
      <Dialog.Portal>
        <Dialog.Overlay className={dialogClasses.overlay} />
        <Dialog.Content className={dialogClasses.content} data-testid={testId}>
          <Dialog.Title className="text-lg font-semibold">{title}</Dialog.Title>
          <Dialog.Description>{description}</Dialog.Description>
          {children}
          <DialogError message={error} />
          <DialogActions dismiss={dismiss}>
            <button
              type="button"
              className={`rounded px-3 py-1 text-white disabled:opacity-50 ${danger ? "bg-red-700" : "bg-slate-900"}`}
              disabled={pending}
              onClick={() => void confirmNow()}
            >
              {pending && pendingLabel ? pendingLabel : confirm}
            </button>
          </DialogActions>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
