"use client";
import { useMutation } from "@tanstack/react-query";
import { useId, useState } from "react";
import { metaKindLabels } from "@/schemas/meta";
import { notify } from "../toast";
import { useTRPC } from "../trpc";

/** The kinds an operator submits from the page; steering is sent from the run's page. */
const KINDS = ["pause", "resume", "priority", "depend", "cancel", "restart"] as const;
type Kind = (typeof KINDS)[number];

const FIELDS: Record<Kind, readonly ("repo" | "request" | "on" | "priority")[]> = {
  pause: ["repo"],
  resume: ["repo"],
  priority: ["request", "repo", "priority"],
  depend: ["request", "on"],
  cancel: ["request"],
  restart: ["request"],
};

const newEventId = () => `web-${crypto.randomUUID()}`;

/**
 * Submits one item to the meta queue. The form keeps one source event id until its item is
 * recorded, so a second click (or a retry after a dropped answer) is the same item, applied once.
 */
export function MetaSubmitForm({ repos, onDone }: { repos: string[]; onDone: () => void }) {
  const trpc = useTRPC();
  const base = useId();
  const submit = useMutation(trpc.meta.submit.mutationOptions());
  const [kind, setKind] = useState<Kind>("pause");
  const [eventId, setEventId] = useState(newEventId);
  const [problems, setProblems] = useState<string[]>([]);
  const shown = FIELDS[kind];

  async function onSubmit(form: FormData) {
    const text = (name: string) => String(form.get(name) ?? "").trim();
    const item: Record<string, unknown> = { kind, sourceEventId: eventId };
    for (const f of shown) if (text(f)) item[f] = text(f);
    if (text("note")) item.note = text("note");
    try {
      const res = await submit.mutateAsync(item);
      setProblems([]);
      setEventId(newEventId());
      if (res.item.state === "refused")
        notify.error(`Item #${res.item.id} refused`, res.item.effect ?? "");
      else notify.success(`Item #${res.item.id} ${res.item.state}`, res.item.effect ?? "");
      onDone();
    } catch (err) {
      const issues = (err as { data?: { issues?: { path: string; message: string }[] } }).data
        ?.issues;
      setProblems(
        issues?.length ? issues.map((i) => `${i.path}: ${i.message}`) : [(err as Error).message],
      );
    }
  }

  const input = "mt-1 block w-full rounded border border-slate-300 px-2 py-1";
  return (
    <form
      action={onSubmit}
      className="grid gap-3 rounded border border-slate-200 bg-white p-4 text-sm sm:grid-cols-3"
      data-testid="meta-submit"
    >
      <div>
        <label htmlFor={`${base}-kind`}>Kind</label>
        <select
          id={`${base}-kind`}
          name="kind"
          className={input}
          value={kind}
          onChange={(e) => setKind(e.target.value as Kind)}
        >
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {metaKindLabels[k]}
            </option>
          ))}
        </select>
      </div>
      {shown.includes("repo") && (
        <div>
          <label htmlFor={`${base}-repo`}>
            Repository{kind === "priority" ? " (or a request)" : ""}
          </label>
          <input
            id={`${base}-repo`}
            name="repo"
            list={`${base}-repos`}
            className={input}
            autoComplete="off"
          />
          <datalist id={`${base}-repos`}>
            {repos.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </div>
      )}
      {shown.includes("request") && (
        <div>
          <label htmlFor={`${base}-request`}>
            Request{kind === "depend" ? " that waits" : ""} (R12)
          </label>
          <input id={`${base}-request`} name="request" className={input} autoComplete="off" />
        </div>
      )}
      {shown.includes("on") && (
        <div>
          <label htmlFor={`${base}-on`}>Waits for (R9, any repository)</label>
          <input id={`${base}-on`} name="on" className={input} autoComplete="off" />
        </div>
      )}
      {shown.includes("priority") && (
        <div>
          <label htmlFor={`${base}-priority`}>Priority</label>
          <select id={`${base}-priority`} name="priority" className={input} defaultValue="high">
            <option value="high">high</option>
            <option value="normal">normal</option>
            <option value="low">low</option>
          </select>
        </div>
      )}
      <div className="sm:col-span-2">
        <label htmlFor={`${base}-note`}>Note (optional)</label>
        <input
          id={`${base}-note`}
          name="note"
          className={input}
          maxLength={500}
          autoComplete="off"
        />
      </div>
      <div className="flex flex-wrap items-end gap-3 sm:col-span-3">
        <button
          type="submit"
          disabled={submit.isPending}
          className="rounded bg-sky-800 px-3 py-1.5 font-medium text-white disabled:opacity-60"
        >
          Submit item
        </button>
        <span className="text-xs text-slate-600">
          Source event id <code data-testid="meta-submit-id">{eventId}</code>
        </span>
      </div>
      {problems.length > 0 && (
        <ul role="alert" className="text-red-800 sm:col-span-3" data-testid="meta-submit-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </form>
  );
}
