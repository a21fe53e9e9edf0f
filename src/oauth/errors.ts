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

/** The error codes of a token or revocation response (RFC 6749 §5.2). */
export const OAUTH_ERROR_CODES = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "server_error",
] as const;

export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

/**
 * A refusal at the token or revocation endpoint, answered as `{"error", "error_description"}`. The status
 * is 400, or 401 for a client that failed to authenticate (§5.2). `server_error` is 500: Google and Alexa
 * treat `invalid_grant` as "unlinked", so a failure of our own must never look like one.
 */
export class OAuthError extends Error {
  override readonly name = "OAuthError";
  readonly status: 400 | 401 | 500;

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.status = error === "invalid_client" ? 401 : error === "server_error" ? 500 : 400;
  }

  /** The response body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
