"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { roles } from "@/schemas/roles";
import { ConfirmDialog } from "./dialog";
import { Cell, StackedHead, stacked } from "./stacked-table";
import { useTRPC } from "./trpc";

const button = (label: string) => (
  <button type="button" className="rounded border px-2 py-0.5">
    {label}
  </button>
);

type Person = {
  id: number;
  email: string;
  role: string;
  createdAt: number;
  disabledAt: number | null;
};

/** Admins change roles, reset passwords (shown once) and disable or enable people here. */
export function PeopleTable({ people, canManage }: { people: Person[]; canManage: boolean }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [notice, setNotice] = useState<string | null>(null);
  const done = (text: string) => {
    setNotice(text);
    router.refresh();
  };
  const setRole = useMutation(
    trpc.user.setRole.mutationOptions({ onSuccess: (u) => done(`${u.email} is now ${u.role}.`) }),
  );
  const reset = useMutation(
    trpc.user.resetPassword.mutationOptions({
      onSuccess: (r) => done(`New password for ${r.user.email}: ${r.password} (shown once).`),
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
  const error = setRole.error?.message ?? reset.error?.message ?? disable.error?.message;
  return (
    <div className="space-y-3">
      {notice && (
        <p
          role="status"
          className="rounded bg-green-50 p-3 text-sm text-green-800"
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
      {/* On a phone each person is a card of lines rather than a row wider than the screen. */}
      <table className={stacked.table}>
        <StackedHead
          columns={["Email", "Role", "State", "Added", ...(canManage ? ["Actions"] : [])]}
        />
        <tbody className={stacked.tbody}>
          {people.map((u) => (
            <tr key={u.id} className={stacked.row} data-testid="person-row">
              <Cell label="Email" className="break-all">
                {u.email}
              </Cell>
              <Cell label="Role">
                {canManage ? (
                  <label>
                    <span className="sr-only">Role of {u.email}</span>
                    <select
                      defaultValue={u.role}
                      className="rounded border px-1"
                      onChange={(e) => setRole.mutate({ email: u.email, role: e.target.value })}
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
