import { z } from "zod";
import { Role } from "@/schemas/roles";
import { addUser, listUsers } from "@/server/users/service";
import { procedure, router } from "../init";

export const userRouter = router({
  me: procedure("system.read").query(({ ctx }) => ctx.user),

  list: procedure("user.read").query(({ ctx }) => listUsers(ctx.db)),

  add: procedure("user.manage")
    .input(z.strictObject({ email: z.string(), role: Role }))
    .mutation(async ({ ctx, input }) => {
      const { user, password } = await addUser(ctx.db, input);
      return { user, password };
    }),
});
