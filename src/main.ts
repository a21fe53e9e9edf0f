/**
 * The `hearth` command line. Each subcommand lives in src/cli/ and gets everything it needs from the
 * config; errors a user can fix are printed as one clear message, never as a stack trace.
 *
 * The command definitions import little: each command imports what it runs (the config, the store, the
 * daemon) when it runs, so that `hearth --version`, `--help` and every command load only what they use.
 */
import { Command, CommanderError } from "commander";
import { adminCommand } from "./cli/admin.ts";
import { backupCommand } from "./cli/backup.ts";
import { clientCommand } from "./cli/client.ts";
import { CliError } from "./cli/context.ts";
import { devicesCommand } from "./cli/devices.ts";
import { doctorCommand } from "./cli/doctor.ts";
import { hookCommand } from "./cli/hook.ts";
import { linksCommand } from "./cli/links.ts";
import { nodeCommand } from "./cli/node.ts";
import { otaCommand } from "./cli/ota.ts";
import { sceneCommand, scenesCommand } from "./cli/scenes.ts";
import { sendCommand } from "./cli/send.ts";
import { simCommand } from "./cli/sim.ts";
import { startCommand } from "./cli/start.ts";
import { subscriptionCommand } from "./cli/subscription.ts";
import { userCommand } from "./cli/user.ts";
import { VERSION } from "./version.ts";

const program = new Command("hearth")
  .description("Self-hosted bridge: Alexa, Google Assistant and webhooks to your own ESP32 nodes over MQTT")
  .version(VERSION)
  // `hearth --version` is the program's own option only before a command: `hearth ota push --version 1.4.3`
  // gives the image's version.
  .enablePositionalOptions()
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .addCommand(startCommand())
  .addCommand(nodeCommand())
  .addCommand(devicesCommand())
  .addCommand(sendCommand())
  .addCommand(scenesCommand())
  .addCommand(sceneCommand())
  .addCommand(subscriptionCommand())
  .addCommand(simCommand())
  .addCommand(linksCommand())
  .addCommand(adminCommand())
  .addCommand(userCommand())
  .addCommand(clientCommand())
  .addCommand(hookCommand())
  .addCommand(backupCommand())
  .addCommand(otaCommand())
  .addCommand(doctorCommand());

/**
 * The error classes of the modules the commands load, imported only when a command failed: a command that
 * succeeds need not load them, and a failed one has loaded most of them already.
 */
async function errorClasses() {
  const [{ ConfigError }, { NodeRegistryError }, { AccountError }, { StoreError }] = await Promise.all([
    import("./config/index.ts"),
    import("./devices/node-registry.ts"),
    import("./oauth/errors.ts"),
    import("./store/index.ts"),
  ]);
  return { ConfigError, NodeRegistryError, AccountError, StoreError };
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit with 0; usage errors were already printed by commander.
    process.exitCode = error.exitCode;
  } else if (error instanceof CliError) {
    process.stderr.write(`hearth: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    const { ConfigError, NodeRegistryError, AccountError, StoreError } = await errorClasses();
    if (error instanceof ConfigError) {
      process.stderr.write(`hearth: ${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof NodeRegistryError || error instanceof AccountError || error instanceof StoreError) {
      process.stderr.write(`hearth: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`hearth: ${(error as Error).message ?? String(error)}\n`);
      if (process.env.HEARTH_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
      process.exitCode = 1;
    }
  }
}
