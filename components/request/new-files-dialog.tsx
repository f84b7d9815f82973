"use client";
import * as Dialog from "@radix-ui/react-dialog";
import type { FieldIssue } from "@/schemas/issues";
import { NEW_FILE } from "@/schemas/issues";
import { dialogClasses } from "../dialog";

/** A file the server found missing on the target branch: its path and the branch. */
export type NewFileAsk = { path: string; branch: string };

/**
 * The files to ask about, when the server refused the request for those alone; null when it
 * refused anything else too (those are fixed first, the files shown with them).
 */
export function newFilesToAsk(
  issues: readonly FieldIssue[] | null | undefined,
): NewFileAsk[] | null {
  if (!issues?.length || issues.some((i) => i.code !== NEW_FILE)) return null;
  return issues.map((i) => {
    const m = /^(.*) does not exist on (.+?): check the path/.exec(i.message);
    return { path: m?.[1] ?? i.path, branch: m?.[2] ?? "the target branch" };
  });
}

/**
 * "src/x.js does not exist on main: create it?" Asked before filing, since a mistyped path
 * would otherwise become a new file. Creating files the request again saying so; going back
 * leaves the form as it was, the paths marked on the Files field.
 */
export function NewFilesDialog({
  files,
  pending,
  onCreate,
  onBack,
}: {
  files: NewFileAsk[] | null;
  pending: boolean;
  onCreate: () => void;
  onBack: () => void;
}) {
  const one = files?.length === 1 ? files[0] : undefined;
  const branch = files?.[0]?.branch ?? "";
  const title = one
    ? `${one.path} does not exist on ${one.branch}: create it?`
    : `${files?.length ?? 0} files do not exist on ${branch}: create them?`;
  return (
    <Dialog.Root open={files !== null} onOpenChange={(open) => !open && onBack()}>
      <Dialog.Portal>
        <Dialog.Overlay className={dialogClasses.overlay} />
        <Dialog.Content
          className={dialogClasses.content}
          data-testid="new-files-dialog"
          // The form moves focus itself: to the Files field when going back.
          onCloseAutoFocus={(e) => e.preventDefault()}
        >
          <Dialog.Title className="text-lg font-semibold break-words">{title}</Dialog.Title>
          <Dialog.Description>
            {one
              ? "The request names a file that is not in the repository yet. If the path is right, the change will create it; if it is a typo, go back and fix it."
              : "The request names files that are not in the repository yet. If the paths are right, the change will create them; if one is a typo, go back and fix it."}
          </Dialog.Description>
          {one ? null : (
            <ul className="list-disc pl-5 font-mono break-all" data-testid="new-files">
              {files?.map((f) => (
                <li key={f.path}>{f.path}</li>
              ))}
            </ul>
          )}
          <div className="flex flex-wrap justify-end gap-2">
            <Dialog.Close asChild>
              <button type="button" className="rounded border px-3 py-1">
                Go back and fix the path
              </button>
            </Dialog.Close>
            <button
              type="button"
              className="rounded bg-slate-900 px-3 py-1 text-white disabled:opacity-50"
              disabled={pending}
              onClick={onCreate}
            >
              {pending ? "Filing…" : one ? "Create it and file" : "Create them and file"}
            </button>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
