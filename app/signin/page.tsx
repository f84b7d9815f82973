import { redirect } from "next/navigation";
import { SignInForm } from "@/components/sign-in-form";
import { safeCallbackPath } from "@/server/auth/callback-url";
import { sessionUser } from "@/server/auth/session";

export const metadata = { title: "Sign in" };

export default async function SignInPage(props: {
  searchParams: Promise<{ callbackUrl?: string | string[]; error?: string | string[] }>;
}) {
  const { callbackUrl, error } = await props.searchParams;
  const returnTo = safeCallbackPath(callbackUrl);
  if (await sessionUser()) redirect(returnTo);
  return (
    <main className="mx-auto mt-24 max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
      <h1 className="mb-1 text-2xl font-semibold">Hyperion</h1>
      <p className="mb-6 text-sm text-slate-500">Sign in to file and follow requests.</p>
      <SignInForm
        returnTo={returnTo}
        initialError={typeof error === "string" ? error : undefined}
      />
    </main>
  );
}
