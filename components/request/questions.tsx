import type { RequestDetail } from "@/server/views/request-detail";
import { AnswerForm } from "./answer-form";

type Spec = NonNullable<RequestDetail["spec"]>;

/**
 * The Engineer's questions; whoever may answer them (or, once a question came back after an
 * answer, re-scope the request) gets the answer form under them.
 */
export function Questions({
  id,
  questions,
  needsAttention,
  canRescope,
  canReply,
  areas,
  onDone,
}: {
  id: number;
  questions: Spec["questions"];
  /** The question came back after an answer. */
  needsAttention: boolean;
  canRescope: boolean;
  /** The form is shown: to answer, or to re-scope. */
  canReply: boolean;
  areas: string[];
  onDone: () => void;
}) {
  return (
    <section className="rounded border border-amber-300 bg-amber-50 p-4" data-testid="questions">
      <h2 className="mb-2 font-semibold">The Engineer asks</h2>
      <ul className="list-disc pl-5 text-sm">
        {questions.map((q) => (
          <li key={q}>{q}</li>
        ))}
      </ul>
      {needsAttention && (
        <p className="mt-2 text-sm text-orange-900" data-testid="needs-attention">
          This question came back after an answer.{" "}
          {canRescope
            ? "Re-scope the request below: set its kind, areas or files."
            : "A reviewer or operator will re-scope it."}
        </p>
      )}
      {canReply && <AnswerForm id={id} areas={areas} onDone={onDone} />}
    </section>
  );
}

/** The questions asked so far, each under the answer it got. */
export function Answers({ answers }: { answers: Spec["answers"] }) {
  return (
    <section className="text-sm" data-testid="answers">
      <h2 className="mb-1 font-semibold">Questions and answers</h2>
      <ol className="space-y-2">
        {answers.map((a) => (
          <li key={a.at} className="rounded bg-white p-2" data-testid="answer">
            {(a.questions ?? []).map((q) => (
              <p key={q} className="text-slate-600">
                <span className="font-medium">Engineer:</span> {q}
              </p>
            ))}
            <p>
              <span className="font-medium">{a.by}:</span> {describeAnswer(a.answer)}
            </p>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** An answer as a sentence, not JSON: only what it gave. */
function describeAnswer(a: { files: string[]; areas: string[]; kind?: string; note?: string }) {
  const parts = [
    a.kind && `kind ${a.kind}`,
    a.areas.length > 0 && `areas ${a.areas.join(", ")}`,
    a.files.length > 0 && `files ${a.files.join(", ")}`,
    a.note && `“${a.note}”`,
  ].filter(Boolean);
  return parts.join("; ") || "(empty)";
}
