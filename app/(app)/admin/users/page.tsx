import { Forbidden } from "@/components/forbidden";
import { PeopleTable } from "@/components/people-table";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";
import { listUsers } from "@/server/users/service";

export const metadata = { title: "Users" };

export default async function UsersPage() {
  const user = await requirePageUser("/admin/users");
  if (!can(user.role, "user.read")) return <Forbidden need="user.read" />;
  const users = await listUsers(runtime().db);
  return (
    <section>
      <h1 className="mb-4 text-2xl font-semibold">Users</h1>
      <p className="mb-4 text-sm text-slate-600">
        Add people here (or with{" "}
        <code>npx hyperion user add &lt;email&gt; --role &lt;role&gt;</code>
        ). A new person gets a generated password, shown to you once. A role changes after you
        confirm it; passwords and access are reset or withdrawn here too.
      </p>
      <PeopleTable people={users} canManage={can(user.role, "user.manage")} />
    </section>
  );
}
