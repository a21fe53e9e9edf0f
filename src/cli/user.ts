import { Command } from "commander";
import { PIN_MAX_DIGITS, PIN_MIN_DIGITS, pinProblem, TwoFactor } from "../google/two-factor.ts";
import { AccountError } from "../oauth/errors.ts";
import type { UserRecord } from "../store/index.ts";
import { CliError, type CommonOptions, listCommand, printJson, withCommonOptions, withStore } from "./context.ts";
import { readHidden, readNewPassword, readPasswordFromStdin } from "./prompt.ts";

interface PasswordOptions extends CommonOptions {
  passwordStdin?: boolean;
}

interface PinOptions extends CommonOptions {
  pinStdin?: boolean;
  remove?: boolean;
}

/**
 * A new PIN: one line from standard input with `fromStdin`, otherwise typed twice at the terminal without
 * echo, like a password, and for the same reason never an argument. Checked after the first entry.
 */
async function readNewPin(userName: string, fromStdin: boolean): Promise<string> {
  let pin: string;
  if (fromStdin) {
    try {
      pin = await readPasswordFromStdin();
    } catch (error) {
      throw error instanceof CliError ? new CliError("no PIN on standard input") : error;
    }
  } else {
    if (!process.stdin.isTTY) {
      throw new CliError(
        "standard input is not a terminal, so the PIN cannot be asked for; pass --pin-stdin to read it from standard input",
      );
    }
    pin = await readHidden(`PIN for ${userName} (${PIN_MIN_DIGITS}–${PIN_MAX_DIGITS} digits): `);
  }
  const problem = pinProblem(pin);
  if (problem) throw new CliError(problem);
  if (!fromStdin && (await readHidden("Repeat the PIN: ")) !== pin) {
    throw new CliError("the two PINs differ; nothing was changed");
  }
  return pin;
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
        const { addUser, checkNewUserName } = await import("../oauth/accounts.ts");
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
        const { removeUser } = await import("../oauth/accounts.ts");
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
        const { changePassword } = await import("../oauth/accounts.ts");
        await changePassword(store, existing.name, password);
        process.stdout.write(`Changed the password of ${existing.name}.\n`);
      });
    });

  withCommonOptions(user.command("pin <name>"))
    .description("set the PIN a user speaks to confirm guarded commands on Google (unlocking a door), or remove it")
    .option("--pin-stdin", "read the PIN from standard input (one line)")
    .option("--remove", "remove the user's PIN")
    .action((name: string, options: PinOptions) => {
      return withStore(options, async (store, config) => {
        const existing = store.users.get(name);
        if (!existing) throw new AccountError("unknown_user", `no user "${name}"`);
        const { createLogger } = await import("../log.ts");
        const twoFactor = new TwoFactor({ store, config, log: createLogger("silent") });
        if (options.remove) {
          if (options.pinStdin) throw new CliError("--remove reads no PIN; leave out --pin-stdin");
          const removed = await twoFactor.removePin(existing.id, "cli");
          process.stdout.write(
            removed
              ? `Removed the PIN of ${existing.name}. Their commands that need a PIN now fail until a new one is set.\n`
              : `${existing.name} has no PIN; nothing changed.\n`,
          );
          return;
        }
        const pin = await readNewPin(existing.name, options.pinStdin ?? false);
        await twoFactor.setPin(existing.id, pin, "cli");
        process.stdout.write(
          `Set the PIN of ${existing.name}. Google asks for it before guarded commands, such as unlocking a lock.\n`,
        );
      });
    });

  return user;
}
