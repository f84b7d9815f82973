"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import type { FieldIssue } from "@/schemas/issues";
import { roles } from "@/schemas/roles";
import { ConfirmDialog } from "./dialog";
import { ErrorSummary, FieldError, useFieldErrors } from "./form-field";
import { Cell, StackedHead, stacked } from "./stacked-table";
import { notify } from "./toast";
import { useTRPC } from "./trpc";

const button = (label: string) => (
  <button type="button" className="rounded border px-2 py-0.5">
    {label}
  </button>
);

type Person = {
  id: number;
  email: string;
  name: string | null;
  role: string;
  createdAt: number;
  disabledAt: number | null;
};

/** What each role may do, in a sentence: the role dialog says what the change gives or takes. */
const ROLE_MEANS: Record<string, string> = {
  requester: "file requests and follow their own",
  reviewer: "file requests and approve or reject changes",
  operator: "run the queue, workers and agents as well as review",
  admin: "do everything, including managing people",
};

const an = (role: string) => (/^[aeiou]/.test(role) ? `an ${role}` : `a ${role}`);

/** Admins add people, change roles (after a confirmation), reset passwords and disable people here. */
export function PeopleTable({ people, canManage }: { people: Person[]; canManage: boolean }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [notice, setNotice] = useState<string | null>(null);
  const [roleChange, setRoleChange] = useState<{ email: string; from: string; to: string } | null>(
    null,
  );
  const done = (text: string) => {
    setNotice(text);
    notify.success(text);
    router.refresh();
  };
  const setRole = useMutation(
    trpc.user.setRole.mutationOptions({ onSuccess: (u) => done(`${u.email} is now ${u.role}.`) }),
  );
  const reset = useMutation(
    trpc.user.resetPassword.mutationOptions({
      onSuccess: (r) => {
        setNotice(`New password for ${r.user.email}: ${r.password} (shown once).`);
        router.refresh();
      },
    }),
  );
  const disable = useMutation(
    trpc.user.setDisabled.mutationOptions({
      onSuccess: (r, v) =>
        done(
          v.disabled
            ? `${r.user.email} is disabled; ${r.tokensRevoked} token(s) revoked.`
            : `${r.user.email} is enabled.`,
        ),
    }),
  );
  const error = reset.error?.message ?? disable.error?.message;
  return (
    <div className="space-y-3">
      {canManage && <AddPerson onAdded={() => router.refresh()} />}
      {notice && (
        <p
          role="status"
          className="rounded bg-green-50 p-3 text-sm text-green-800 [overflow-wrap:anywhere]"
          data-testid="people-notice"
        >
          {notice}
        </p>
      )}
      {error && (
        <p role="alert" className="rounded bg-red-50 p-3 text-sm text-red-800">
          {error}
        </p>
      )}
      {/* A role changes only once the admin confirms it; the select shows the stored role until then. */}
      <ConfirmDialog
        open={roleChange !== null}
        onOpenChange={(open) => {
          if (!open) setRoleChange(null);
        }}
        title={roleChange ? `Make ${roleChange.email} ${an(roleChange.to)}?` : "Change role?"}
        description={
          roleChange
            ? `From ${roleChange.from} to ${roleChange.to}: they will be able to ${ROLE_MEANS[roleChange.to] ?? "act in that role"}. It applies from their next page or API call.`
            : ""
        }
        confirm="Change role"
        onConfirm={() =>
          roleChange && setRole.mutateAsync({ email: roleChange.email, role: roleChange.to })
        }
        pending={setRole.isPending}
        error={setRole.error?.message}
        testId="role-dialog"
      />
      {/* On a phone each person is a card of lines rather than a row wider than the screen. */}
      <table className={stacked.table}>
        <StackedHead
          columns={["Email", "Name", "Role", "State", "Added", ...(canManage ? ["Actions"] : [])]}
        />
        <tbody className={stacked.tbody}>
          {people.map((u) => (
            <tr key={u.id} className={stacked.row} data-testid="person-row">
              <Cell label="Email" className="break-all">
                {u.email}
              </Cell>
              <Cell label="Name">{u.name ?? "—"}</Cell>
              <Cell label="Role">
                {canManage ? (
                  <label>
                    <span className="sr-only">Role of {u.email}</span>
                    <select
                      value={u.role}
                      className="rounded border px-1"
                      onChange={(e) => {
                        setRole.reset();
                        setRoleChange({ email: u.email, from: u.role, to: e.target.value });
                      }}
                    >
                      {roles.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </label>
                ) : (
                  u.role
                )}
              </Cell>
              <Cell label="State">{u.disabledAt ? "disabled" : "active"}</Cell>
              <Cell label="Added">{new Date(u.createdAt).toISOString().slice(0, 10)}</Cell>
              {canManage && (
                <Cell label="Actions">
                  <span className="inline-flex flex-wrap gap-2">
                    <ConfirmDialog
                      trigger={button("Reset password")}
                      confirm="Reset password"
                      title={`Reset ${u.email}'s password?`}
                      description="A new password is generated and shown to you once; the old one stops working at once."
                      onConfirm={() => reset.mutateAsync({ email: u.email })}
                      pending={reset.isPending}
                      error={reset.error?.message}
                    />
                    <ConfirmDialog
                      trigger={button(u.disabledAt ? "Enable" : "Disable")}
                      confirm={u.disabledAt ? "Enable" : "Disable"}
                      danger={!u.disabledAt}
                      title={u.disabledAt ? `Enable ${u.email}?` : `Disable ${u.email}?`}
                      description={
                        u.disabledAt
                          ? "They can sign in again. Tokens revoked when they were disabled stay revoked."
                          : "They can no longer sign in, their sessions end at once and their API tokens are revoked."
                      }
                      onConfirm={() =>
                        disable.mutateAsync({ email: u.email, disabled: !u.disabledAt })
                      }
                      pending={disable.isPending}
                      error={disable.error?.message}
                    />
                  </span>
                </Cell>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const LABELS: Record<string, string> = { email: "Email", name: "Name", role: "Role" };

/** The server's issues in the form's words: "Email must be an email address". */
function byField(issues: readonly FieldIssue[]) {
  return issues.map((i) => {
    const field = i.path.split(/[.[]/)[0] ?? "form";
    const label = LABELS[field];
    if (!label) return { field: "form", message: i.message };
    const message = /^(must|is) /.test(i.message)
      ? `${label} ${i.message}`
      : `${label}: ${i.message}`;
    return { field, message };
  });
}

/**
 * Adds a person with a generated password, shown here once with a copy button. A password (rather
 * than a one-time sign-in link) because sign-in is by email and password and Hyperion sends no
 * mail: the admin hands it over as they would one from `hyperion user add`, and can reset it.
 */
function AddPerson({ onAdded }: { onAdded: () => void }) {
  const trpc = useTRPC();
  const form = useFieldErrors("add-person");
  const [created, setCreated] = useState<{ email: string; password: string } | null>(null);
  const add = useMutation(trpc.user.add.mutationOptions());

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const el = e.currentTarget;
    const data = new FormData(el);
    const values = {
      email: String(data.get("email") ?? ""),
      name: String(data.get("name") ?? ""),
      role: String(data.get("role") ?? "requester") as (typeof roles)[number],
    };
    form.clear();
    setCreated(null);
    add.mutate(values, {
      onSuccess: (r) => {
        setCreated({ email: r.user.email, password: r.password });
        el.reset();
        notify.success(`Added ${r.user.email} as ${an(r.user.role)}.`);
        onAdded();
      },
      onError: (err) => {
        const issues = err.data?.issues;
        form.show(issues?.length ? byField(issues) : [{ field: "form", message: err.message }]);
      },
    });
  }

  async function copy(password: string) {
    try {
      await navigator.clipboard.writeText(password);
      notify.success("Password copied.");
    } catch {
      notify.error("Could not copy the password.", "Select it and copy it by hand.");
    }
  }

  const input = "mt-1 block w-full rounded border px-2 py-1";
  return (
    <section aria-labelledby="add-person-title" className="rounded border bg-white p-4">
      <h2 id="add-person-title" className="mb-3 text-lg font-semibold">
        Add a person
      </h2>
      {created && (
        <div
          role="status"
          className="mb-3 space-y-2 rounded bg-green-50 p-3 text-sm text-green-900"
          data-testid="added-person"
        >
          <p>
            Added {created.email}. Their password is shown once — give it to them privately; they
            can sign in with it at once. If it is lost, reset it below.
          </p>
          <p className="flex flex-wrap items-center gap-2">
            <span>Password:</span>
            <code className="rounded bg-white px-2 py-0.5 break-all" data-testid="new-password">
              {created.password}
            </code>
            <button
              type="button"
              className="rounded border bg-white px-2 py-0.5"
              onClick={() => void copy(created.password)}
            >
              Copy password
            </button>
            <button
              type="button"
              className="rounded border bg-white px-2 py-0.5"
              onClick={() => setCreated(null)}
            >
              Done
            </button>
          </p>
        </div>
      )}
      <form ref={form.formRef} onSubmit={submit} noValidate className="space-y-3">
        <ErrorSummary
          errors={form.errors}
          fieldId={form.id}
          summaryRef={form.summaryRef}
          testId="add-person-errors"
        />
        <div className="grid gap-3 sm:grid-cols-3">
          <div>
            <label htmlFor={form.id("email")} className="font-medium">
              Email
            </label>
            <input
              {...form.aria("email")}
              name="email"
              type="email"
              autoComplete="off"
              required
              className={input}
            />
            <FieldError fieldId={form.id("email")} messages={form.errors.email} />
          </div>
          <div>
            <label htmlFor={form.id("name")} className="font-medium">
              Name <span className="font-normal text-slate-600">(optional)</span>
            </label>
            <input {...form.aria("name")} name="name" autoComplete="off" className={input} />
            <FieldError fieldId={form.id("name")} messages={form.errors.name} />
          </div>
          <div>
            <label htmlFor={form.id("role")} className="font-medium">
              Role
            </label>
            <select {...form.aria("role")} name="role" defaultValue="requester" className={input}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
            <FieldError fieldId={form.id("role")} messages={form.errors.role} />
          </div>
        </div>
        <button
          type="submit"
          disabled={add.isPending}
          className="rounded bg-slate-900 px-4 py-2 font-medium text-white disabled:opacity-60"
        >
          {add.isPending ? "Adding…" : "Add person"}
        </button>
      </form>
    </section>
  );
}
