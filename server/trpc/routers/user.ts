import { z } from "zod";
import { Role } from "@/schemas/roles";
import { addUser, listUsers, resetPassword, setDisabled, setRole } from "@/server/users/service";
import { procedure, router } from "../init";

export const userRouter = router({
  me: procedure("system.read").query(({ ctx }) => ctx.user),

  list: procedure("user.read").query(async ({ ctx }) => listUsers(ctx.db)),

  /**
   * Adds a person with a generated password, returned once (the same service as `hyperion user
   * add`). The service checks every field and names the one at fault; a taken email is a 409.
   */
  add: procedure("user.manage")
    .input(
      z.strictObject({
        email: z.string().max(2000),
        name: z.string().max(2000).optional(),
        role: Role,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { user, password } = await addUser(ctx.db, input);
      return { user, password };
    }),

  /** The role as a string: an unknown one is refused by the service, naming the roles. */
  setRole: procedure("user.manage")
    .input(z.strictObject({ email: z.string().max(320), role: z.string().max(40) }))
    .mutation(async ({ ctx, input }) => setRole(ctx.db, input.email, input.role)),

  /** A new generated password, returned once. */
  resetPassword: procedure("user.manage")
    .input(z.strictObject({ email: z.string().max(320) }))
    .mutation(async ({ ctx, input }) => {
      const { user, password } = await resetPassword(ctx.db, input.email);
      return { user, password };
    }),

  setDisabled: procedure("user.manage")
    .input(z.strictObject({ email: z.string().max(320), disabled: z.boolean() }))
    .mutation(async ({ ctx, input }) => setDisabled(ctx.db, input.email, input.disabled)),
});
