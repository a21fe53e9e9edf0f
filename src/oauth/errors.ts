/**
 * Errors of managing users and OAuth clients, shared by the CLI and (later) the admin API, which maps
 * each code to an HTTP status. Codes are part of that contract: extend, never rename.
 */
export const ACCOUNT_ERROR_CODES = [
  "invalid_user_name",
  "user_exists",
  "unknown_user",
  "weak_password",
  "invalid_vendor_id",
  "invalid_project_id",
  "invalid_redirect_uri",
  "invalid_label",
  "unknown_client",
] as const;

export type AccountErrorCode = (typeof ACCOUNT_ERROR_CODES)[number];

export class AccountError extends Error {
  override readonly name = "AccountError";
  constructor(
    readonly code: AccountErrorCode,
    message: string,
  ) {
    super(message);
  }
}
