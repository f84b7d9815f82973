// The shape of a parsed patch, the limits that keep parsing and applying it bounded, and the
// errors a patch that cannot be taken is refused with. Parsed by parsePatch (patch.ts).

export type HunkLine = { op: " " | "-" | "+"; text: string; noEol: boolean };
export type Hunk = {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
  lines: HunkLine[];
};

export type FilePatch = {
  oldPath: string | null;
  newPath: string | null;
  oldMode?: string;
  newMode?: string;
  oldOid?: string;
  newOid?: string;
  binary: boolean;
  copy: boolean;
  hunks: Hunk[];
};

export type PatchOptions = {
  /** Gitlinks (mode 160000) and .gitmodules may be written; off unless a repository opts in. */
  allowSubmodules?: boolean;
};

/** Limits that keep parsing and applying any patch bounded; each refusal names its limit. */
export const MAX_PATCH_FILES = 2_000;
export const MAX_HUNKS_PER_FILE = 5_000;
export const MAX_PATCH_HUNK_LINES = 200_000;
export const MAX_LINE_NUMBER = 10_000_000;
/** Line comparisons applyHunks may spend looking for where a file's hunks apply. */
export const MAX_HUNK_SEARCH_COMPARISONS = 20_000_000;

export const FILE_MODES = ["100644", "100755", "120000"] as const;
export const GITLINK_MODE = "160000";

/** A patch that is not a `git diff` we can apply safely; `problems` lists each reason. */
export class PatchParseError extends Error {
  override name = "PatchParseError";
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
  }
}

/** The patch parsed but contradicts the repository (an object of the wrong type, say). */
export class InvalidPatchError extends PatchParseError {
  override name = "InvalidPatchError";
}
