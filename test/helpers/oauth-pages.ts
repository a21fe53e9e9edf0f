/**
 * Account linking through Hearth's own pages, as a person in the Alexa or Google app does it: the
 * authorization page, the login form, the consent form, the redirect back with a code, then the token
 * endpoint as the assistant calls it. For tests that need a real link made over HTTP (see
 * test/helpers/linking.ts for one made without the pages).
 */

export interface PageClient {
  id: string;
  secret: string;
  redirectUri: string;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown> | null;
}

function csrfOf(html: string): string {
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (csrf === undefined) throw new Error(`no csrf field in the page:\n${html.slice(0, 500)}`);
  return csrf;
}

async function postForm(baseUrl: string, cookie: string | undefined, fields: Record<string, string>) {
  const response = await fetch(`${baseUrl}/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, html: await response.text(), location: response.headers.get("location") };
}

export interface PageSession {
  /** The session cookie the authorization page set. */
  cookie: string | undefined;
  /** The login form's CSRF token. */
  csrf: string;
}

/** Opens the authorization page as the assistant's redirect does. */
export async function startAuthorization(baseUrl: string, client: PageClient, state = "state-1"): Promise<PageSession> {
  const query = new URLSearchParams({
    client_id: client.id,
    redirect_uri: client.redirectUri,
    response_type: "code",
    state,
  });
  const page = await fetch(`${baseUrl}/oauth/authorize?${query}`, { redirect: "manual" });
  const html = await page.text();
  if (page.status !== 200) throw new Error(`the authorization page answered ${page.status}: ${html.slice(0, 300)}`);
  return { cookie: page.headers.get("set-cookie")?.split(";")[0], csrf: csrfOf(html) };
}

/** Posts the login form; a wrong password answers 401 with the form again. */
export function signIn(baseUrl: string, session: PageSession, username: string, password: string) {
  return postForm(baseUrl, session.cookie, { csrf: session.csrf, step: "login", username, password });
}

/** Signs in and allows access; returns the authorization code from the redirect back to the client. */
export async function authorizeThroughPages(
  baseUrl: string,
  client: PageClient,
  username: string,
  password: string,
  state = "state-1",
): Promise<{ code: string; session: PageSession }> {
  const session = await startAuthorization(baseUrl, client, state);
  const consent = await signIn(baseUrl, session, username, password);
  if (consent.status !== 200) throw new Error(`the login answered ${consent.status}: ${consent.html.slice(0, 300)}`);
  const done = await postForm(baseUrl, session.cookie, {
    csrf: csrfOf(consent.html),
    step: "consent",
    decision: "allow",
  });
  if (done.status !== 303 || !done.location) throw new Error(`the consent answered ${done.status}, not a redirect`);
  const code = new URL(done.location).searchParams.get("code");
  if (!code) throw new Error(`no code in the redirect ${done.location}`);
  return { code, session };
}

/** Calls the token endpoint with the client's credentials in HTTP Basic, as Alexa does. */
export async function tokenRequest(
  baseUrl: string,
  client: PageClient,
  fields: Record<string, string>,
): Promise<TokenAnswer> {
  const basic = Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString("base64");
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}` },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, unknown> | null };
}

/** The whole link: pages, code exchange; returns the tokens the assistant holds afterwards. */
export async function linkThroughPages(
  baseUrl: string,
  client: PageClient,
  username: string,
  password: string,
): Promise<{ code: string; session: PageSession; accessToken: string; refreshToken: string }> {
  const { code, session } = await authorizeThroughPages(baseUrl, client, username, password);
  const issued = await tokenRequest(baseUrl, client, {
    grant_type: "authorization_code",
    code,
    redirect_uri: client.redirectUri,
  });
  if (issued.status !== 200)
    throw new Error(`the code exchange answered ${issued.status}: ${JSON.stringify(issued.body)}`);
  return {
    code,
    session,
    accessToken: String(issued.body?.access_token),
    refreshToken: String(issued.body?.refresh_token),
  };
}
