import { resolve } from "node:path";
import { Command } from "commander";
import type { Daemon } from "../daemon.ts";
import { VERSION } from "../version.ts";
import { CliError, type CommonOptions, cliConfig, withCommonOptions } from "./context.ts";

/** Exit code for a shutdown that had to be forced, as a supervisor expects (128 + signal number). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
/** What systemd is asked to wait beyond shutdownTimeoutMs, for the exit itself after a forced stop. */
const STOP_MARGIN_MS = 5000;

export function startCommand(): Command {
  return withCommonOptions(new Command("start"))
    .description("run the daemon: HTTP API, MQTT link (embedded broker unless mqtt.url is set), SQLite store")
    .action(async (options: CommonOptions) => {
      const { config, notices } = await cliConfig(options);
      const { createLogger } = await import("../log.ts");
      const log = createLogger(config.logLevel);
      for (const notice of notices) log.warn(notice);
      // A rejected promise nobody awaited is a bug to fix, not a reason to drop every node's link.
      process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));
      process.on("uncaughtException", (error) => {
        log.fatal({ err: error }, "uncaught exception; exiting so the supervisor restarts a clean process");
        process.exit(1);
      });
      // Does nothing unless started by systemd with Type=notify (systemd/hearth.service).
      const { SystemdNotifier } = await import("../ops/systemd-notify.ts");
      const systemd = new SystemdNotifier({ log: log.child({ component: "systemd" }) });
      // Loaded here, not at the top: the other commands start faster without the daemon's dependencies.
      const { Daemon } = await import("../daemon.ts");
      const daemon = await Daemon.start(config, log).catch(
        (error: NodeJS.ErrnoException & { address?: string; port?: number }) => {
          if (error.code === "EADDRINUSE") {
            throw new CliError(
              `cannot listen on ${error.address}:${error.port}: the port is in use (another Hearth or an MQTT broker?); ` +
                "choose another with HEARTH_HTTP_PORT or HEARTH_MQTT_PORT",
            );
          }
          throw error;
        },
      );
      printBanner(daemon);
      // Only now, with the store open, the broker and the link up and HTTP listening, is Hearth ready.
      systemd.ready(`listening on ${daemon.httpUrl}, MQTT ${displayedMqttUrl(daemon)}`);

      let shuttingDown = false;
      const shutdown = (signal: keyof typeof SIGNAL_EXIT) => {
        if (shuttingDown) return;
        shuttingDown = true;
        log.info({ signal }, "shutting down");
        systemd.stopping(config.shutdownTimeoutMs + STOP_MARGIN_MS);
        const hardStop = setTimeout(() => {
          log.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown took too long; exiting anyway");
          process.exit(SIGNAL_EXIT[signal]);
        }, config.shutdownTimeoutMs);
        hardStop.unref();
        daemon.stop().then(
          () => {
            log.info("stopped");
            process.exit(0);
          },
          (error: unknown) => {
            log.error({ err: error }, "shutdown failed");
            process.exit(1);
          },
        );
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
    });
}

function printBanner(daemon: Daemon): void {
  const { config } = daemon;
  const broker = daemon.broker ? "embedded broker" : "external broker";
  const lines = [
    `Hearth ${VERSION} is running.`,
    `  HTTP   ${daemon.httpUrl}   (health: /healthz, admin API: /api/v1)`,
    `  MQTT   ${displayedMqttUrl(daemon)}   (${broker}, topics under ${config.mqtt.topicPrefix}/)`,
    `  Data   ${resolve(config.dataDir)}`,
    "",
    "Next steps (in another terminal):",
    "  npx hearth node add kitchen-1           register a node and print its MQTT credentials",
    "  npx hearth sim --nodes 1                run a simulated node with a light and a sensor",
    "  npx hearth devices                      list devices with their state and online flag",
    "  npx hearth send sim-1.light on=true     send a command and print the confirmed state",
    "  npx hearth admin token                  create a token for the admin API",
    "  npx hearth user add alice               a user who links Alexa or Google (docs/account-linking.md)",
    "  npx hearth client add alexa --vendor-id <id>   or: client add google --project-id <id>",
    "",
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
}

/** The broker's URL without the credentials an external broker's URL may carry. */
function displayedMqttUrl(daemon: Daemon): string {
  return daemon.mqttUrl.replace(/\/\/[^@/]*@/, "//");
}
