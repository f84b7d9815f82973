"use client";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { type FormEvent, useState, useTransition } from "react";
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
  // From a good password until the first page has rendered: the form says what is happening
  // instead of sitting idle (or blank) while the server renders that page.
  const [opening, startOpening] = useTransition();
  const [signedIn, setSignedIn] = useState(false);

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
    if (!res || res.error) {
      setBusy(false);
      setError(messageFor(res?.error ?? ""));
      return;
    }
    setSignedIn(true);
    startOpening(() => {
      router.replace(safeCallbackPath(returnTo, window.location.origin));
      router.refresh();
    });
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
        disabled={busy || opening}
        aria-busy={busy || opening}
        className="w-full rounded bg-slate-900 px-4 py-2 font-medium text-white disabled:opacity-60"
      >
        {busy || opening ? "Signing in…" : "Sign in"}
      </button>
      <p role="status" className="text-center text-sm text-slate-600" data-testid="sign-in-status">
        {signedIn ? "Signed in. Opening your page…" : busy ? "Checking your password…" : ""}
      </p>
    </form>
  );
}
