import type { FieldIssue } from "@/schemas/issues";

/** Input that failed validation; carries every failing field so each surface can list them. */
export class ValidationError extends Error {
  constructor(
    readonly issues: FieldIssue[],
    message = `Invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
  ) {
    super(message);
    this.name = "ValidationError";
  }
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The input is well formed but clashes with what exists; `issues` names the field when one is to blame. */
export class ConflictError extends Error {
  override name = "ConflictError";
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

/** The caller is known but may not do this to this object (another requester's request). */
export class ForbiddenError extends Error {
  override name = "ForbiddenError";
}
