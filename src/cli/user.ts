import { Command } from "commander";
import { addUser, changePassword, checkNewUserName, removeUser } from "../oauth/accounts.ts";
import { AccountError } from "../oauth/errors.ts";
import type { UserRecord } from "../store/index.ts";
import { type CommonOptions, listCommand, printJson, withCommonOptions, withStore } from "./context.ts";
import { readNewPassword } from "./prompt.ts";

interface PasswordOptions extends CommonOptions {
  passwordStdin?: boolean;
}

/** A user as `--json` prints it: never the password hash. */
export function userView(user: UserRecord) {
  return {
    id: user.id,
    name: user.name,
    created_at: new Date(user.createdAt).toISOString(),
    password_changed_at: new Date(user.passwordChangedAt).toISOString(),
  };
}

export function userCommand(): Command {
  const user = new Command("user").description(
    "manage the people who sign in to link Alexa or Google (account linking)",
  );

  withCommonOptions(user.command("add <name>"))
    .description("add a user; the password is asked for twice at the terminal, or read from standard input")
    .option("--password-stdin", "read the password from standard input (one line)")
    .option("--json", "print one JSON object")
    .action((name: string, options: PasswordOptions & { json?: boolean }) => {
      return withStore(options, async (store) => {
        checkNewUserName(store, name);
        const password = await readNewPassword(name, options.passwordStdin ?? false);
        const created = await addUser(store, name, password);
        if (options.json) return printJson(userView(created));
        process.stdout.write(
          `Added user ${created.name}. They sign in with this name and password when they link Alexa or Google.\n`,
        );
      });
    });

  listCommand(user.command("list").description("list users (names and dates; passwords are never shown)"), {
    rows: (store) => store.users.list().map(userView),
    empty: "No users yet: add one with `hearth user add <name>`.",
    columns: [
      ["NAME", (u) => u.name],
      ["CREATED", (u) => u.created_at],
      ["PASSWORD CHANGED", (u) => u.password_changed_at],
    ],
  });

  withCommonOptions(user.command("remove <name>"))
    .description("remove a user")
    .action((name: string, options: CommonOptions) => {
      return withStore(options, async (store) => {
        const existing = store.users.get(name);
        removeUser(store, name);
        process.stdout.write(`Removed user ${existing?.name ?? name}.\n`);
      });
    });

  withCommonOptions(user.command("passwd <name>"))
    .description("set a new password for a user")
    .option("--password-stdin", "read the new password from standard input (one line)")
    .action((name: string, options: PasswordOptions) => {
      return withStore(options, async (store) => {
        const existing = store.users.get(name);
        if (!existing) throw new AccountError("unknown_user", `no user "${name}"`);
        const password = await readNewPassword(existing.name, options.passwordStdin ?? false);
        await changePassword(store, existing.name, password);
        process.stdout.write(`Changed the password of ${existing.name}.\n`);
      });
    });

  return user;
}
