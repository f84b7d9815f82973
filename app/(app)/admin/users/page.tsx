import { Forbidden } from "@/components/forbidden";
import { TableHead } from "@/components/table-head";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";
import { listUsers } from "@/server/users/service";

export const metadata = { title: "Users" };

export default async function UsersPage() {
  const user = await requirePageUser("/admin/users");
  if (!can(user.role, "user.read")) return <Forbidden need="user.read" />;
  const users = listUsers(runtime().db);
  return (
    <section>
      <h1 className="mb-4 text-2xl font-semibold">Users</h1>
      <p className="mb-4 text-sm text-slate-600">
        Add users with <code>npx hyperion user add &lt;email&gt; --role &lt;role&gt;</code>.
      </p>
      <table className="w-full bg-white text-left text-sm">
        <TableHead columns={["Email", "Role", "Added"]} />
        <tbody>
          {users.map((u) => (
            <tr key={u.id} className="border-b">
              <td className="p-2">{u.email}</td>
              <td className="p-2">{u.role}</td>
              <td className="p-2">{new Date(u.createdAt).toISOString().slice(0, 10)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
