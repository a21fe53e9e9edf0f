/**
 * Typed errors of the canonical model. Every adapter maps a `code` to its platform's own error format
 * (HTTP status on the admin API, Alexa ErrorResponse type, Google errorCode), so codes are part of the
 * contract: extend, never rename.
 */
export const COMMAND_ERROR_CODES = [
  /** The request named no params and no op that needs none. */
  "empty_command",
  "unknown_device",
  "unknown_param",
  "read_only",
  "out_of_range",
  /** The value's JSON type does not match the param (a string for a bool, 40.5 for an int). */
  "invalid_type",
  /** An enum value that is not one of the declared values. */
  "invalid_value",
  /** An op (stop, identify…) this device type does not support. */
  "unsupported_op",
  /** The node is known to be offline: answered at once, not after a timeout. */
  "offline",
  /** The node did not confirm before the deadline, retry included. */
  "timeout",
  /** The node answered `busy`. */
  "busy",
  /** The node answered `expired`: the command arrived after its expiry. */
  "expired",
  /** The node answered `error`, `bad_request` or something it should not have. */
  "node_error",
  /** The MQTT link to the broker is down: no command can reach any node. */
  "bridge_unavailable",
] as const;
export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly code: CommandErrorCode,
    message: string,
    /** The param at fault, when there is one. */
    readonly param?: string,
  ) {
    super(message);
  }
}

/** A node's `config` described a device that the model cannot accept. */
export class DeclarationError extends Error {
  override readonly name = "DeclarationError";
  constructor(
    readonly deviceId: string,
    message: string,
  ) {
    super(message);
  }
}
