"use client";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { type FormEvent, useState } from "react";
import { safeCallbackPath } from "@/server/auth/callback-url";
import {
  GENERIC_SIGN_IN_ERROR,
  PASSWORD_TOO_LONG_MESSAGE,
  signInMessages,
} from "@/server/auth/sign-in-messages";
import { PASSWORD_MAX } from "@/server/users/limits";

const messageFor = (code: string) => signInMessages[code] ?? GENERIC_SIGN_IN_ERROR;

export function SignInForm({
  returnTo,
  initialError,
}: {
  returnTo: string;
  initialError?: string;
}) {
  const router = useRouter();
  const [error, setError] = useState(initialError ? messageFor(initialError) : "");
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const password = String(form.get("password") ?? "");
    if (password.length > PASSWORD_MAX) {
      setError(PASSWORD_TOO_LONG_MESSAGE);
      return;
    }
    setBusy(true);
    setError("");
    const res = await signIn("credentials", {
      email: String(form.get("email") ?? ""),
      password,
      redirect: false,
    });
    setBusy(false);
    if (!res || res.error) {
      setError(messageFor(res?.error ?? ""));
      return;
    }
    router.replace(safeCallbackPath(returnTo, window.location.origin));
    router.refresh();
  }

  return (
    <form onSubmit={onSubmit} className="space-y-4" noValidate>
      <label className="block text-sm font-medium">
        Email
        <input
          name="email"
          type="email"
          autoComplete="username"
          required
          className="mt-1 w-full rounded border border-slate-300 px-3 py-2"
        />
      </label>
      <label className="block text-sm font-medium">
        Password
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          className="mt-1 w-full rounded border border-slate-300 px-3 py-2"
        />
      </label>
      {error && (
        <p role="alert" className="text-sm text-red-700">
          {error}
        </p>
      )}
      <button
        type="submit"
        disabled={busy}
        className="w-full rounded bg-slate-900 px-4 py-2 font-medium text-white disabled:opacity-60"
      >
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
