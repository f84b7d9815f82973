import { z } from "zod";

export const GIT_NAME_MAX = 200;
export const GIT_EMAIL_MAX = 254;

/**
 * A name or an email as git writes it into a commit's author or committer line: git's own
 * rule, not an RFC's. Any text, trimmed, non-empty, without '<', '>', a line break or NUL; so
 * `49699333+dependabot[bot]@users.noreply.github.com` and unicode names pass. Git does not
 * insist on an '@' in the email; Hyperion does, with text on both sides.
 */
export const gitIdentityField = (field: "name" | "email") => {
  const max = field === "name" ? GIT_NAME_MAX : GIT_EMAIL_MAX;
  const text = z
    .string("must be text")
    .trim()
    .min(1, { error: "is required", abort: true })
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^<>\n\r\0]*$/, "must be one line without '<', '>' or NUL");
  return field === "name"
    ? text
    : text.regex(/^[^@]+@[^@]+$/, "must be an email address: one '@' with text on both sides");
};

const fields = { name: gitIdentityField("name"), email: gitIdentityField("email") };

/** Who made a commit: `{ name, email }` as git accepts them. */
export const GitIdentity = z.strictObject(fields);
export type GitIdentity = z.infer<typeof GitIdentity>;

/**
 * What is wrong with a name or an email for a commit's author or committer line, naming the
 * field (`email: must be ...`), or null when nothing is.
 */
export function gitIdentityProblem(field: "name" | "email", value: unknown): string | null {
  const result = fields[field].safeParse(value);
  if (result.success) return null;
  return result.error.issues.map((i) => `${field}: ${i.message}`).join("; ");
}
