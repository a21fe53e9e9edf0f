/**
 * `GET/POST /oauth/authorize`: the login and consent pages of account linking (RFC 6749 §4.1.1–4.1.2).
 *
 * The request is checked in small named steps, in the order that decides where an error may go: an
 * unknown client or a redirect URI that is not registered (exact string match) gets an error page and
 * never a redirect (RFC 9700 §4.11.2: no open redirector); everything after that is reported to the
 * client by redirecting with `error=` and the client's `state`.
 *
 * Between the pages, the request lives in memory under a random id carried by an HttpOnly cookie, with
 * its own anti-CSRF token in the form (the client's `state` protects the client, not our forms). A
 * restart in the middle of a sign-in just means starting it again from the app.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import express, { type Request, type Response, Router } from "express";
import type { Config } from "../config/index.ts";
import type { Store } from "../store/index.ts";
import { OAUTH_PATHS } from "./endpoints.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import { consentPage, errorPage, loginPage } from "./pages.ts";
import type { PasswordHasher } from "./passwords.ts";

export interface CodeRequest {
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

/** Issues authorization codes (the grant service). */
export interface CodeIssuer {
  issueCode(request: CodeRequest): string | Promise<string>;
}

export interface AuthorizeDeps {
  config: Config;
  store: Store;
  codes: CodeIssuer;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  now?: () => number;
}

interface PendingAuthorization {
  id: string;
  csrf: string;
  clientId: string;
  clientLabel: string;
  redirectUri: string;
  state: string | undefined;
  scope: string;
  codeChallenge: string | undefined;
  codeChallengeMethod: string | undefined;
  userId?: string;
  userName?: string;
  expiresAt: number;
}

const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 1000;
const COOKIE = "hearth_authz";

function random(): string {
  return randomBytes(32).toString("base64url");
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function single(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A redirect back to the client with parameters added to its registered URI (whose own query stays). */
function clientRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

export function authorizeRouter(deps: AuthorizeDeps): Router {
  const { store, config, throttle, hasher } = deps;
  const now = deps.now ?? Date.now;
  const pending = new Map<string, PendingAuthorization>();
  const router = Router();
  const path = OAUTH_PATHS.authorize;

  const secureCookies = (req: Request) => req.secure || (config.publicUrl?.startsWith("https:") ?? false);
  const cookieName = (req: Request) => (secureCookies(req) ? `__Host-${COOKIE}` : COOKIE);

  /**
   * Headers of every page: no caching, no framing (RFC 9700 §4.16), and a CSP whose form-action also
   * allows the client's origin — the consent POST is answered with a redirect there, and a browser
   * applies form-action to that redirect.
   */
  const pageHeaders = (res: Response, redirectUri?: string) => {
    const formAction = redirectUri ? `'self' ${new URL(redirectUri).origin}` : "'self'";
    res.setHeader(
      "Content-Security-Policy",
      `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    );
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Pragma", "no-cache");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.type("html");
  };

  const fail = (res: Response, status: number, title: string, message: string) => {
    pageHeaders(res);
    res.status(status).send(errorPage(title, message));
  };

  const remember = (authorization: PendingAuthorization) => {
    const t = now();
    for (const [id, entry] of pending) if (entry.expiresAt <= t) pending.delete(id);
    while (pending.size >= MAX_PENDING) {
      const oldest = pending.keys().next().value;
      if (oldest === undefined) break;
      pending.delete(oldest);
    }
    pending.set(authorization.id, authorization);
  };

  router.get(path, (req, res) => {
    const query = req.query as Record<string, unknown>;
    const clientId = single(query.client_id);
    const redirectUri = single(query.redirect_uri);
    const client = clientId ? store.oauthClients.get(clientId) : undefined;
    if (!client) return fail(res, 400, "Unknown app", "This link request names an app that Hearth does not know.");
    if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
      return fail(
        res,
        400,
        "Wrong return address",
        "This link request asks to return to an address that is not registered for the app.",
      );
    }
    const state = single(query.state);
    const back = (error: string, description: string) =>
      res.redirect(303, clientRedirect(redirectUri, { error, error_description: description, state }));
    if (single(query.response_type) !== "code")
      return back("unsupported_response_type", "only response_type=code is supported");
    const codeChallenge = single(query.code_challenge);
    const codeChallengeMethod = single(query.code_challenge_method);
    if (codeChallenge !== undefined && codeChallengeMethod !== "S256") {
      return back("invalid_request", "code_challenge_method must be S256");
    }
    if (codeChallenge === undefined && codeChallengeMethod !== undefined) {
      return back("invalid_request", "code_challenge_method without code_challenge");
    }
    if (codeChallenge === undefined && client.pkce === "required") {
      return back("invalid_request", "this client must use PKCE: send code_challenge with code_challenge_method=S256");
    }
    const authorization: PendingAuthorization = {
      id: random(),
      csrf: random(),
      clientId: client.id,
      clientLabel: client.label,
      redirectUri,
      state,
      scope: single(query.scope) ?? "",
      codeChallenge,
      codeChallengeMethod,
      expiresAt: now() + PENDING_TTL_MS,
    };
    remember(authorization);
    res.cookie(cookieName(req), authorization.id, {
      httpOnly: true,
      sameSite: "lax",
      secure: secureCookies(req),
      path: "/",
      maxAge: PENDING_TTL_MS,
    });
    pageHeaders(res, redirectUri);
    res.send(loginPage({ clientLabel: client.label, csrf: authorization.csrf, action: path }));
  });

  router.post(path, express.urlencoded({ extended: false, limit: 8192 }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const id = readCookie(req, cookieName(req));
    const authorization = id ? pending.get(id) : undefined;
    if (!authorization || authorization.expiresAt <= now()) {
      return fail(res, 400, "Sign-in expired", "This sign-in took too long or was already used.");
    }
    const csrf = single(body.csrf);
    if (!csrf || !sameToken(csrf, authorization.csrf)) {
      return fail(res, 403, "Request refused", "This form was not sent by the Hearth sign-in page.");
    }
    const step = single(body.step);

    if (step === "login") {
      const userName = (single(body.username) ?? "").trim();
      const password = single(body.password) ?? "";
      const keys = [`ip:${req.ip ?? "unknown"}`, `user:${userName.toLowerCase()}`];
      const renderLogin = (status: number, error: string) => {
        pageHeaders(res, authorization.redirectUri);
        res.status(status).send(
          loginPage({
            clientLabel: authorization.clientLabel,
            csrf: authorization.csrf,
            action: path,
            userName,
            error,
          }),
        );
      };
      const wait = throttle.waitMs(keys);
      if (wait > 0) {
        res.setHeader("Retry-After", String(Math.ceil(wait / 1000)));
        return renderLogin(429, `Too many failed attempts. Try again in ${Math.ceil(wait / 1000)} seconds.`);
      }
      const credentials = userName ? store.users.credentials(userName) : undefined;
      const valid = await hasher.verify(password, credentials?.passwordHash);
      if (!valid || !credentials) {
        throttle.recordFailure(keys);
        return renderLogin(401, "The user name or the password is wrong.");
      }
      throttle.recordSuccess(keys);
      authorization.userId = credentials.id;
      authorization.userName = store.users.getById(credentials.id)?.name ?? userName;
      // A fresh token for the next form: the login page's token cannot be replayed against consent.
      authorization.csrf = random();
      pageHeaders(res, authorization.redirectUri);
      return res.send(
        consentPage({
          clientLabel: authorization.clientLabel,
          userName: authorization.userName,
          csrf: authorization.csrf,
          action: path,
        }),
      );
    }

    if (step === "consent" && authorization.userId) {
      // One decision per sign-in: the pending request is gone whatever is chosen.
      pending.delete(authorization.id);
      res.clearCookie(cookieName(req), { path: "/", httpOnly: true, sameSite: "lax", secure: secureCookies(req) });
      if (single(body.decision) !== "allow") {
        return res.redirect(
          303,
          clientRedirect(authorization.redirectUri, {
            error: "access_denied",
            error_description: "the user denied access",
            state: authorization.state,
          }),
        );
      }
      const code = await deps.codes.issueCode({
        clientId: authorization.clientId,
        userId: authorization.userId,
        redirectUri: authorization.redirectUri,
        scope: authorization.scope,
        ...(authorization.codeChallenge ? { codeChallenge: authorization.codeChallenge } : {}),
        ...(authorization.codeChallengeMethod ? { codeChallengeMethod: authorization.codeChallengeMethod } : {}),
      });
      // 303, never 307: the browser must not re-send the form (and its password) to the client (RFC 9700 §4.12).
      return res.redirect(303, clientRedirect(authorization.redirectUri, { code, state: authorization.state }));
    }

    return fail(res, 400, "Request refused", "This form is not part of a sign-in in progress.");
  });

  return router;
}
