/**
 * Alexa's error vocabulary and the translation of Hearth's own errors into it. Every failure a directive
 * can meet ends as one of these, answered as an `ErrorResponse` with HTTP 200: Alexa reads the type, and
 * a 5xx or a stack trace would only make it say "the skill is not responding".
 */
import { CommandError, type CommandErrorCode, type ParamSpec } from "../model/index.ts";

/** The `Alexa` namespace's error types Hearth uses (a subset of Amazon's enum). */
export type AlexaErrorType =
  | "BRIDGE_UNREACHABLE"
  | "ENDPOINT_BUSY"
  | "ENDPOINT_UNREACHABLE"
  | "EXPIRED_AUTHORIZATION_CREDENTIAL"
  | "INTERNAL_ERROR"
  | "INVALID_AUTHORIZATION_CREDENTIAL"
  | "INVALID_DIRECTIVE"
  | "INVALID_VALUE"
  | "NO_SUCH_ENDPOINT"
  | "NOT_SUPPORTED_IN_CURRENT_MODE"
  | "TEMPERATURE_VALUE_OUT_OF_RANGE"
  | "VALUE_OUT_OF_RANGE";

/** Errors of `Alexa.ThermostatController.ErrorResponse`. */
export type ThermostatErrorType =
  | "THERMOSTAT_IS_OFF"
  | "UNSUPPORTED_THERMOSTAT_MODE"
  | "DUAL_SETPOINTS_UNSUPPORTED"
  | "TRIPLE_SETPOINTS_UNSUPPORTED";

export class AlexaError extends Error {
  override readonly name = "AlexaError";
  constructor(
    readonly type: AlexaErrorType | ThermostatErrorType | "ACCEPT_GRANT_FAILED",
    message: string,
    /** Extra payload fields the type requires (`validRange`, `currentDeviceMode`). */
    readonly extra: Record<string, unknown> = {},
    /** The namespace of the ErrorResponse: `Alexa` unless the error belongs to one interface. */
    readonly namespace = "Alexa",
  ) {
    super(message);
  }
}

export function thermostatError(type: ThermostatErrorType, message: string): AlexaError {
  return new AlexaError(type, message, {}, "Alexa.ThermostatController");
}

export function valueOutOfRange(message: string, min: number, max: number): AlexaError {
  return new AlexaError("VALUE_OUT_OF_RANGE", message, { validRange: { minimumValue: min, maximumValue: max } });
}

const COMMAND_ERROR_TYPES: Record<CommandErrorCode, AlexaErrorType> = {
  empty_command: "INVALID_DIRECTIVE",
  unknown_device: "NO_SUCH_ENDPOINT",
  unknown_param: "INVALID_DIRECTIVE",
  read_only: "INVALID_DIRECTIVE",
  unsupported_op: "INVALID_DIRECTIVE",
  out_of_range: "VALUE_OUT_OF_RANGE",
  invalid_type: "INVALID_VALUE",
  invalid_value: "INVALID_VALUE",
  offline: "ENDPOINT_UNREACHABLE",
  timeout: "ENDPOINT_UNREACHABLE",
  expired: "ENDPOINT_UNREACHABLE",
  busy: "ENDPOINT_BUSY",
  node_error: "INTERNAL_ERROR",
  bridge_unavailable: "BRIDGE_UNREACHABLE",
};

/**
 * The Alexa error for a failed command. An out-of-range value names the valid range, which Alexa needs
 * to tell the user what the device accepts; the range is the device's own declaration.
 */
export function fromCommandError(error: CommandError, params: readonly ParamSpec[] = []): AlexaError {
  const type = COMMAND_ERROR_TYPES[error.code];
  if (type === "VALUE_OUT_OF_RANGE") {
    const spec = params.find((p) => p.id === error.param);
    if (spec?.min !== undefined && spec.max !== undefined) return valueOutOfRange(error.message, spec.min, spec.max);
    return new AlexaError("INVALID_VALUE", error.message);
  }
  return new AlexaError(type, error.message);
}

export function toAlexaError(error: unknown, params?: readonly ParamSpec[]): AlexaError | undefined {
  if (error instanceof AlexaError) return error;
  if (error instanceof CommandError) return fromCommandError(error, params);
  return undefined;
}
