import { z } from "zod";
import { priorities } from "./task-request";

/** The longest QA notes: what the developer's next prompt carries. */
export const QA_NOTES_MAX = 4000;

// C0 controls other than tab and line breaks, DEL, and C1 controls: they hide or rewrite text
// where the notes are shown and in the prompt they are sent in.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const NOTES_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * What is wrong with QA notes, or null: control characters are named with their position (the
 * first one, counted from 1), and the length with its limit. Tabs and line breaks are allowed.
 */
export function notesProblem(notes: string, max = QA_NOTES_MAX): string | null {
  const m = NOTES_CONTROL.exec(notes);
  if (m) {
    const code = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    return `contains a control character (U+${code}) at position ${m.index + 1}; remove it (tabs and line breaks are fine)`;
  }
  if (notes.length > max) return `is ${notes.length} characters long; at most ${max}`;
  return null;
}

/** QA notes: free text with lines, bounded, without control characters. */
export const QaNotes = z.string().superRefine((notes, ctx) => {
  const problem = notesProblem(notes);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A request's id as a person writes it: `R12` or `12`. */
export const RequestRef = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^[Rr]?[1-9][0-9]{0,14}$/, "must be a request id such as R12")
    .transform((s) => Number(s.replace(/^[Rr]/, ""))),
]);

export const QaPassInput = z.strictObject({ requestId: z.number().int().positive() });
export const QaFailInput = z.strictObject({
  requestId: z.number().int().positive(),
  notes: QaNotes,
});
export const QaPrioritizeInput = z.strictObject({
  requestId: z.number().int().positive(),
  priority: z.enum(priorities, { error: `must be one of ${priorities.join(", ")}` }),
});
export type QaPriority = (typeof priorities)[number];
