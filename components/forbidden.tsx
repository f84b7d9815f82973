export function Forbidden({ need }: { need: string }) {
  return (
    <section className="rounded border border-amber-300 bg-amber-50 p-6" data-testid="forbidden">
      <h1 className="text-xl font-semibold">Access denied</h1>
      <p className="mt-2 text-sm">
        This page needs the <code>{need}</code> permission, which your role does not have. An admin
        can grant it by changing your role:{" "}
        <code>hyperion user set-role &lt;your email&gt; &lt;role&gt;</code> (docs/governance.md
        lists what each role may do).
      </p>
    </section>
  );
}
