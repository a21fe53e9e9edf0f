/** The account-linking routes (the brief's HTTP contract) and their public URLs, as the consoles need them. */
export const OAUTH_PATHS = {
  authorize: "/oauth/authorize",
  token: "/oauth/token",
  revoke: "/oauth/revoke",
} as const;

/** The endpoint URLs under `publicUrl`, which may carry a path prefix (`https://example.org/hearth`). */
export function oauthEndpoints(publicUrl: string): Record<keyof typeof OAUTH_PATHS, string> {
  const base = publicUrl.replace(/\/+$/, "");
  return {
    authorize: `${base}${OAUTH_PATHS.authorize}`,
    token: `${base}${OAUTH_PATHS.token}`,
    revoke: `${base}${OAUTH_PATHS.revoke}`,
  };
}
