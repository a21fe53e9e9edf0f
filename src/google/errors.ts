/**
 * Google's error codes and the translation of Hearth's own errors into them. A per-device error becomes
 * that device's `ERROR`/`OFFLINE` entry in an EXECUTE; the user hears a sentence chosen by the code, so a
 * code that does not fit would tell them something false.
 */
import { CommandError, type CommandErrorCode } from "../model/index.ts";

export class GoogleError extends Error {
  override readonly name = "GoogleError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const COMMAND_ERROR_CODES: Record<CommandErrorCode, string> = {
  empty_command: "notSupported",
  unknown_device: "deviceNotFound",
  unknown_param: "notSupported",
  read_only: "notSupported",
  unsupported_op: "functionNotSupported",
  out_of_range: "valueOutOfRange",
  invalid_type: "protocolError",
  invalid_value: "valueOutOfRange",
  offline: "deviceOffline",
  timeout: "deviceOffline",
  expired: "deviceOffline",
  busy: "deviceBusy",
  node_error: "hardError",
  bridge_unavailable: "deviceOffline",
};

export function googleErrorCode(error: unknown): string | undefined {
  if (error instanceof GoogleError) return error.code;
  if (error instanceof CommandError) return COMMAND_ERROR_CODES[error.code];
  return undefined;
}

/** Errors that mean "the device cannot be reached", which Google wants as `OFFLINE`. */
export function isOfflineCode(code: string): boolean {
  return code === "deviceOffline";
}
