/**
 * The redirect URIs each platform sends users back to after the login. They are fixed by Amazon and
 * Google, so Hearth derives them from the Vendor ID or project id instead of asking for them: a typo in a
 * hand-copied URI would only show up as a failed link on the user's phone. The authorization server
 * compares redirect URIs by exact string, so these strings are the whole allow-list.
 */
import { AccountError } from "./errors.ts";

/** Amazon Vendor IDs, as the developer console's account-linking page shows them (Amazon's example: `ABCDEFGHIJ`). */
export const ALEXA_VENDOR_ID_PATTERN = /^[A-Z0-9]{6,32}$/;

/** Google Cloud project ids: 6–30 of a-z, 0-9 and "-", starting with a letter, not ending with "-". */
export const GOOGLE_PROJECT_ID_PATTERN = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

const MAX_CUSTOM_URIS = 10;
const MAX_URI_LENGTH = 2000;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1"]);

export function vendorIdProblem(vendorId: string): string | undefined {
  if (ALEXA_VENDOR_ID_PATTERN.test(vendorId)) return undefined;
  return `"${vendorId}" is not an Amazon Vendor ID: 6–32 capital letters and digits, as the console's account-linking page shows it at the end of each Alexa Redirect URL`;
}

export function projectIdProblem(projectId: string): string | undefined {
  if (GOOGLE_PROJECT_ID_PATTERN.test(projectId)) return undefined;
  return `"${projectId}" is not a Google project id: 6–30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`;
}

/** The three regional redirect URIs (North America, Europe, Far East) of an Alexa skill's vendor. */
export function alexaRedirectUris(vendorId: string): string[] {
  const problem = vendorIdProblem(vendorId);
  if (problem) throw new AccountError("invalid_vendor_id", problem);
  return [
    `https://pitangui.amazon.com/api/skill/link/${vendorId}`,
    `https://layla.amazon.com/api/skill/link/${vendorId}`,
    `https://alexa.amazon.co.jp/api/skill/link/${vendorId}`,
  ];
}

/** Google's redirect URI and the one of its test (sandbox) environment. */
export function googleRedirectUris(projectId: string): string[] {
  const problem = projectIdProblem(projectId);
  if (problem) throw new AccountError("invalid_project_id", problem);
  return [
    `https://oauth-redirect.googleusercontent.com/r/${projectId}`,
    `https://oauth-redirect-sandbox.googleusercontent.com/r/${projectId}`,
  ];
}

/**
 * Why `uri` cannot be a custom client's redirect URI, or undefined. RFC 9700 §2.6 forbids `http`
 * redirects except to the user's own machine; RFC 6749 §3.1.2 forbids a fragment. The URI is kept as
 * written, since requests must repeat it byte for byte.
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > MAX_URI_LENGTH) return `the redirect URI is longer than ${MAX_URI_LENGTH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being refused
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return `"${uri}" contains spaces or control characters`;
  if (!/^https?:\/\//.test(uri)) return `"${uri}" is not an absolute https:// URL`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `"${uri}" is not a valid URL`;
  }
  if (uri.includes("#")) return `"${uri}" has a fragment (#…), which a redirect URI must not have`;
  if (url.username || url.password) return `"${uri}" contains a user name or password`;
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
    return `"${uri}" uses http: only http://localhost and http://127.0.0.1 may, everything else needs https`;
  }
  return undefined;
}

/** Checks a custom client's redirect URIs and drops repeats, keeping the order given. */
export function customRedirectUris(uris: readonly string[]): string[] {
  const unique = [...new Set(uris)];
  if (unique.length === 0) throw new AccountError("invalid_redirect_uri", "a custom client needs a redirect URI");
  if (unique.length > MAX_CUSTOM_URIS) {
    throw new AccountError("invalid_redirect_uri", `at most ${MAX_CUSTOM_URIS} redirect URIs per client`);
  }
  for (const uri of unique) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new AccountError("invalid_redirect_uri", problem);
  }
  return unique;
}
