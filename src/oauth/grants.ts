/**
 * The rules of the authorization code grant (RFC 6749 §4.1, PKCE per RFC 7636, revocation per RFC
 * 7009) behind /oauth/token and /oauth/revoke. The numbered rows of reliability-perf.md §A1 that each
 * rule implements are named next to it. Codes and tokens are 256 random bits; only their SHA-256 hashes
 * are stored.
 *
 * `invalid_grant` tells Alexa and Google that the link is dead, and they unlink the user. It is thrown
 * only for a code or token that is really unknown, expired, revoked or another client's. A database
 * failure surfaces as whatever the database threw, for the route to answer with a 5xx.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { generateSecret, hashSecret, newId } from "../security/secrets.ts";
import type { LinkRecord, Store } from "../store/index.ts";
import { OAuthError } from "./errors.ts";

const SECOND = 1000;
const DAY = 86_400 * SECOND;

export interface Lifetimes {
  /** Row 3: at most 10 min; 60 s is ASVS L3 and ample for a redirect the platform follows at once. */
  codeMs: number;
  accessTokenMs: number;
  /** Row 11: a refresh token unused for this long stops working; there is no absolute expiry. */
  refreshInactivityMs: number;
}

export const DEFAULT_LIFETIMES: Lifetimes = {
  codeMs: 60 * SECOND,
  accessTokenMs: 3600 * SECOND,
  refreshInactivityMs: 180 * DAY,
};

/** Used codes are kept this long after they expire, so that a late replay still revokes its grant. */
const USED_CODE_RETENTION_MS = DAY;

/** Link health records a request at most this often, so that answering a directive does not write. */
const REQUEST_RECORD_INTERVAL_MS = 60 * SECOND;

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;
/** base64url of a SHA-256 digest, without padding. */
const S256_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface CodeRequest {
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge?: string | undefined;
  codeChallengeMethod?: string | undefined;
}

export interface CodeExchange {
  clientId: string;
  code: string;
  redirectUri: string;
  codeVerifier?: string | undefined;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export interface Authenticated {
  userId: string;
  clientId: string;
  grantId: string;
  scope: string;
  platform: string;
}

export type AuthenticationResult = { principal: Authenticated } | { failure: "invalid" | "expired" };

export interface GrantServiceOptions {
  now?: () => number;
  lifetimes?: Partial<Lifetimes>;
}

function invalidGrant(description: string): OAuthError {
  return new OAuthError("invalid_grant", description);
}

function s256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Issues and checks codes and tokens. Revocation on a password change or the removal of a user or client
 * is registered by the Store itself (src/store/index.ts), so that it also happens when only the CLI runs.
 */
export class GrantService {
  readonly lifetimes: Lifetimes;
  private readonly now: () => number;
  /** "user platform" → when link health last recorded a request. */
  private readonly requestRecorded = new Map<string, number>();

  constructor(
    private readonly store: Store,
    options: GrantServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.lifetimes = { ...DEFAULT_LIFETIMES, ...options.lifetimes };
  }

  /** A new authorization code for a user who consented; the caller checked the client and redirect URI. */
  issueCode(request: CodeRequest): string {
    const client = this.store.oauthClients.get(request.clientId);
    if (!client) throw new OAuthError("invalid_client", "unknown client");
    // Row 1: the authorization endpoint compared the URI already; this keeps a code from ever being bound to another.
    if (!client.redirectUris.includes(request.redirectUri)) {
      throw new OAuthError("invalid_request", "the redirect URI is not registered for this client");
    }
    if (!this.store.users.getById(request.userId)) throw new OAuthError("invalid_request", "unknown user");
    const challenge = this.checkChallenge(request.codeChallenge, request.codeChallengeMethod);
    const now = this.now();
    const code = generateSecret(32); // Row 5: 256 bits, 43 base64url characters.
    this.store.grants.atomically(() => {
      this.store.grants.pruneCodes(now - USED_CODE_RETENTION_MS);
      this.store.grants.insertCode({
        codeHash: hashSecret(code),
        clientId: client.id,
        userId: request.userId,
        redirectUri: request.redirectUri,
        scope: request.scope,
        codeChallenge: challenge,
        createdAt: now,
        expiresAt: now + this.lifetimes.codeMs,
      });
    });
    return code;
  }

  /** Row 7: S256 only. RFC 7636 reads a challenge without a method as `plain`, so that is refused too. */
  private checkChallenge(challenge: string | undefined, method: string | undefined): string | null {
    if (challenge === undefined || challenge === "") {
      if (method !== undefined && method !== "") {
        throw new OAuthError("invalid_request", "code_challenge_method without code_challenge");
      }
      return null;
    }
    if (method !== "S256") throw new OAuthError("invalid_request", "code_challenge_method must be S256");
    if (!S256_CHALLENGE_PATTERN.test(challenge)) {
      throw new OAuthError("invalid_request", "code_challenge is not an S256 challenge");
    }
    return challenge;
  }

  /** The token request of grant_type=authorization_code; the caller authenticated the client. */
  exchangeCode(exchange: CodeExchange): TokenResponse {
    const now = this.now();
    const codeHash = hashSecret(exchange.code);
    const grants = this.store.grants;
    // The transaction returns the refusal instead of throwing it, so that a replay's revocation commits.
    const outcome = grants.atomically((): TokenResponse | OAuthError => {
      const code = grants.code(codeHash);
      if (!code) return invalidGrant("unknown authorization code");
      // Row 3: bound to the client. Another client's attempt changes nothing.
      if (code.clientId !== exchange.clientId) return invalidGrant("the code was issued to another client");
      if (code.usedAt !== null) {
        // Row 4: single use; a replay means the code leaked, so what it produced is revoked.
        if (code.grantId !== null) grants.revokeGrant(code.grantId, now);
        return invalidGrant("the authorization code was already used");
      }
      if (now >= code.expiresAt) return invalidGrant("the authorization code has expired");
      if (code.redirectUri !== exchange.redirectUri) return invalidGrant("redirect_uri does not match");
      const pkce = this.pkceProblem(code.codeChallenge, exchange.codeVerifier);
      if (pkce) return invalidGrant(pkce);

      const client = this.store.oauthClients.get(code.clientId);
      if (!client) return invalidGrant("unknown client");
      const grantId = newId();
      grants.insertGrant({
        id: grantId,
        clientId: code.clientId,
        userId: code.userId,
        scope: code.scope,
        createdAt: now,
      });
      grants.markCodeUsed(codeHash, grantId, now);
      const accessToken = this.insertAccessToken(grantId, now);
      const refreshToken = generateSecret(32);
      grants.insertToken({
        tokenHash: hashSecret(refreshToken),
        kind: "refresh",
        grantId,
        createdAt: now,
        expiresAt: null,
      });
      grants.recordLinked(code.userId, client.platform, now);
      return this.response(accessToken, refreshToken, code.scope);
    });
    if (outcome instanceof OAuthError) throw outcome;
    return outcome;
  }

  /** Row 6: a challenge demands its verifier; a verifier without a challenge is a downgrade attempt. */
  private pkceProblem(challenge: string | null, verifier: string | undefined): string | undefined {
    const sent = verifier !== undefined && verifier !== "";
    if (challenge === null)
      return sent ? "code_verifier sent, but the authorization request had no code_challenge" : undefined;
    if (!sent) return "code_verifier is required";
    if (!VERIFIER_PATTERN.test(verifier) || !sameString(s256(verifier), challenge)) {
      return "code_verifier does not match the code_challenge";
    }
    return undefined;
  }

  /**
   * The token request of grant_type=refresh_token. Row 9/10: no rotation, the same refresh token comes
   * back, so two refreshes racing (or a retry after a lost response) both succeed. Row 14: the access
   * token is new every time.
   */
  refresh(request: { clientId: string; refreshToken: string }): TokenResponse {
    const now = this.now();
    const tokenHash = hashSecret(request.refreshToken);
    const grants = this.store.grants;
    const outcome = grants.atomically((): TokenResponse | OAuthError => {
      const token = grants.token(tokenHash);
      if (token?.kind !== "refresh") return invalidGrant("unknown refresh token");
      // Row 9: the refresh token is bound to the client it was issued to.
      if (token.clientId !== request.clientId) return invalidGrant("the refresh token was issued to another client");
      if (token.revokedAt !== null || token.grantRevokedAt !== null)
        return invalidGrant("the refresh token was revoked");
      if (now - token.lastUsedAt > this.lifetimes.refreshInactivityMs) {
        grants.recordLinkError(token.userId, token.platform, "refresh token expired after inactivity", now, "broken");
        return invalidGrant("the refresh token expired after a long inactivity");
      }
      const accessToken = this.insertAccessToken(token.grantId, now);
      grants.touchToken(tokenHash, now);
      grants.pruneAccessTokens(token.grantId, now);
      grants.recordRefresh(token.userId, token.platform, now);
      return this.response(accessToken, request.refreshToken, token.scope);
    });
    if (outcome instanceof OAuthError) throw outcome;
    return outcome;
  }

  /**
   * RFC 7009 (row 12): a refresh token ends its whole grant, an access token only itself. An unknown
   * token, or another client's, is ignored without a word: the answer is 200 either way.
   */
  revoke(request: { clientId: string; token: string }): void {
    const now = this.now();
    const tokenHash = hashSecret(request.token);
    const grants = this.store.grants;
    grants.atomically(() => {
      const token = grants.token(tokenHash);
      if (!token || token.clientId !== request.clientId) return;
      if (token.kind === "refresh") {
        grants.revokeGrant(token.grantId, now);
        grants.recordLinkError(
          token.userId,
          token.platform,
          "unlinked: the platform revoked the grant",
          now,
          "unlinked",
        );
      } else {
        grants.revokeToken(tokenHash, now);
      }
    });
  }

  /** Who a bearer access token stands for, or undefined when it is unknown, expired or revoked. */
  authenticate(accessToken: string): Authenticated | undefined {
    const result = this.check(accessToken);
    return "principal" in result ? result.principal : undefined;
  }

  /**
   * Like authenticate, but says why a token is refused: an `expired` one makes Alexa and Google refresh,
   * an `invalid` one (unknown, revoked, not an access token) means the link is gone.
   */
  check(accessToken: string): AuthenticationResult {
    const now = this.now();
    const token = this.store.grants.token(hashSecret(accessToken));
    if (token?.kind !== "access" || token.revokedAt !== null || token.grantRevokedAt !== null) {
      return { failure: "invalid" };
    }
    if (token.expiresAt === null || now >= token.expiresAt) return { failure: "expired" };
    this.recordRequest(token.userId, token.platform, now);
    return {
      principal: {
        userId: token.userId,
        clientId: token.clientId,
        grantId: token.grantId,
        scope: token.scope,
        platform: token.platform,
      },
    };
  }

  private recordRequest(userId: string, platform: string, now: number): void {
    const key = `${userId} ${platform}`;
    const last = this.requestRecorded.get(key);
    if (last !== undefined && now - last < REQUEST_RECORD_INTERVAL_MS) return;
    this.requestRecorded.set(key, now);
    this.store.grants.recordRequest(userId, platform, now);
  }

  /** Revokes everything issued to a user; returns the number of grants revoked. */
  revokeUser(userId: string): number {
    return this.store.grants.revokeUser(userId, this.now());
  }

  /** Revokes everything issued to a client; returns the number of grants revoked. */
  revokeClient(clientId: string): number {
    return this.store.grants.revokeClient(clientId, this.now());
  }

  /** One row per user and platform that ever linked, for `hearth links`. */
  linkHealth(): LinkRecord[] {
    return this.store.grants.links();
  }

  private insertAccessToken(grantId: string, now: number): string {
    const token = generateSecret(32);
    this.store.grants.insertToken({
      tokenHash: hashSecret(token),
      kind: "access",
      grantId,
      createdAt: now,
      expiresAt: now + this.lifetimes.accessTokenMs,
    });
    return token;
  }

  private response(accessToken: string, refreshToken: string, scope: string): TokenResponse {
    return {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: Math.round(this.lifetimes.accessTokenMs / SECOND),
      refresh_token: refreshToken,
      scope,
    };
  }
}
