import { Command } from "commander";
import { DEVICE_OPS, type DeviceOp } from "../model/index.ts";
import {
  apiErrorMessage,
  CliError,
  type CommonOptions,
  callDaemon,
  printJson,
  withCommonOptions,
  withStore,
} from "./context.ts";

/** `on=true brightness=40 mode=heat` → `{on: true, brightness: 40, mode: "heat"}`; JSON where it parses. */
export function parseAssignments(assignments: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new CliError(`"${assignment}" is not key=value (e.g. on=true brightness=40)`);
    const key = assignment.slice(0, eq);
    const raw = assignment.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: a bare word such as heat stays a string.
    }
    params[key] = value;
  }
  return params;
}

export function sendCommand(): Command {
  return withCommonOptions(new Command("send"))
    .description("send a command to a device through the running daemon and print the state the node confirmed")
    .argument("<device>", "device id, <node-id>.<dev-id> (see `hearth devices`)")
    .argument("[params...]", "key=value pairs, e.g. on=true brightness=40")
    .option("--op <op>", `operation instead of set: ${DEVICE_OPS.filter((op) => op !== "set").join(", ")}`)
    .option("--json", "print the API's JSON answer")
    .action(async (device: string, assignments: string[], options: CommonOptions & { op?: string; json?: boolean }) => {
      if (options.op && !(DEVICE_OPS as readonly string[]).includes(options.op)) {
        throw new CliError(`--op must be one of ${DEVICE_OPS.join(", ")}`);
      }
      const params = parseAssignments(assignments);
      return withStore(options, async (store, config) => {
        const body = { ...(options.op ? { op: options.op as DeviceOp } : {}), params };
        const response = await callDaemon(
          config,
          store,
          "POST",
          `/api/v1/devices/${encodeURIComponent(device)}/commands`,
          body,
        );
        if (options.json) printJson(response.body);
        if (response.status >= 400) throw new CliError(apiErrorMessage(response), options.json ? 1 : 1);
        if (!options.json) {
          const result = response.body as { status: string; state: Record<string, unknown>; latency_ms: number };
          const state = Object.entries(result.state)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ");
          process.stdout.write(
            `${result.status === "ok" ? "confirmed" : result.status} in ${result.latency_ms} ms: ${device} ${state}\n`,
          );
        }
      });
    });
}
