/**
 * Amazon's event gateway: where ChangeReports, Discovery add/delete reports and deferred responses go
 * (alexa.md §8). Each Amazon user has an LWA token of their own, obtained with AcceptGrant when they
 * link the skill, refreshed here a few minutes before it expires. What the gateway answers decides what
 * happens to the user's grant: a disabled skill stops all sends for that user until the next link,
 * throttling and outages are retried a few times, and a malformed event is logged and never retried.
 *
 * Reports are best effort: `send` never rejects, and a report that cannot be delivered is lost rather
 * than queued (the next change, or Alexa's own ReportState, brings the state up to date).
 */
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import type { AlexaRegion, Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { AlexaGrantRecord, Store } from "../store/index.ts";
import { LoginWithAmazon, LwaError } from "./lwa.ts";

export const EVENT_GATEWAY_URLS: Record<AlexaRegion, string> = {
  NA: "https://api.amazonalexa.com/v3/events",
  EU: "https://api.eu.amazonalexa.com/v3/events",
  FE: "https://api.fe.amazonalexa.com/v3/events",
};

/** Why AcceptGrant failed, in words for the user; the directive handler answers ACCEPT_GRANT_FAILED with it. */
export class AcceptGrantError extends Error {
  override readonly name = "AcceptGrantError";
}

/** `dropped`: not meant to be sent (no grant, or the user disabled the skill). `failed`: meant to, but lost. */
export type SendOutcome = "sent" | "dropped" | "failed";

/** Told what happens to events and tokens (metrics). */
export interface AlexaGatewayMetrics {
  /** An event `send` finished with: `what` names it as in the logs (`ChangeReport`, `DeleteReport`…). */
  alexaEventSent(what: string, outcome: SendOutcome): void;
  /** One answer of the gateway, retries included: its HTTP status, or `network_error` (no answer, or none in time). */
  alexaGatewayAnswered(status: number | "network_error"): void;
  /** A refresh of a user's LWA token: `ok`, `invalid_grant` (the grant is dead), `error`, `not_configured`. */
  alexaTokenRefreshed(outcome: "ok" | "invalid_grant" | "error" | "not_configured"): void;
}

export interface AlexaEventGatewayOptions {
  store: Store;
  config: Config["alexa"];
  log: Logger;
  metrics?: AlexaGatewayMetrics | undefined;
  now?: () => number;
  /** Waits between retries; `stop()` aborts the signal. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** One delay per retry of a throttled or failed request: three retries by default, ≥ 1 s apart as Amazon asks. */
  retryDelaysMs?: readonly number[];
}

/** Refreshed this long before expiry, so a token never expires on its way to Amazon (HA uses the same 5 min). */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** A hung gateway must not pile up requests, one per device change. */
const REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_DELAYS_MS = [1000, 2000, 4000];
const LWA_TIMEOUT_MS = 5_000;

const NOT_CONFIGURED = "Send Alexa Events is not configured: set alexa.clientId and alexa.clientSecret";
const SKILL_DISABLED = "the user disabled the skill: relink to resume proactive reports";
const RELINK = "disable and re-enable the skill in the Alexa app to link again";

/** What the gateway's 403 codes mean for the person running Hearth (alexa.md §8). */
const FORBIDDEN_HINTS: Record<string, string> = {
  INSUFFICIENT_PERMISSION_EXCEPTION:
    "turn on Send Alexa Events in the skill's permissions, then disable and re-enable the skill",
  SKILL_NEVER_ENABLED_EXCEPTION: "the skill is not enabled in this region: check alexa.region or alexa.eventGatewayUrl",
  ACCOUNT_NOT_FOUND_EXCEPTION: `Amazon does not know this user's account any more: ${RELINK}`,
  SKILL_NOT_FOUND_EXCEPTION: `the token belongs to another stage of the skill: ${RELINK}`,
};

/** `{"header":{"namespace":"System","name":"Exception",…},"payload":{"code","description"}}`. */
const GatewayExceptionSchema = z.object({
  payload: z.object({ code: z.string(), description: z.string().optional() }),
});

type GatewayAnswer = { status: number; code: string | undefined; description: string | undefined } | { error: string };

type TokenResult = { token: string } | { outcome: SendOutcome; transient?: boolean };

function retryable(answer: GatewayAnswer): boolean {
  return "error" in answer || answer.status === 429 || answer.status >= 500;
}

function answerText(answer: GatewayAnswer): string {
  if ("error" in answer) return answer.error;
  return answer.code ? `HTTP ${answer.status} ${answer.code}` : `HTTP ${answer.status}`;
}

/** Amazon's descriptions go to the log; cut so a log line stays one line. */
function shortText(text: string | undefined): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being removed
  return text?.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 300);
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal });
}

export class AlexaEventGateway {
  private readonly store: Store;
  private readonly config: Config["alexa"];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly retryDelaysMs: readonly number[];
  private readonly lwa: LoginWithAmazon | undefined;
  private readonly metrics: AlexaGatewayMetrics | undefined;
  private readonly url: string;
  /** One refresh per user at a time: Amazon may rotate the refresh token, so two in parallel could lose one. */
  private readonly refreshing = new Map<string, Promise<TokenResult>>();
  private readonly stopping = new AbortController();

  constructor(options: AlexaEventGatewayOptions) {
    this.store = options.store;
    this.config = options.config;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.metrics = options.metrics;
    this.url = options.config.eventGatewayUrl ?? EVENT_GATEWAY_URLS[options.config.region];
    const { clientId, clientSecret } = options.config;
    this.lwa =
      clientId && clientSecret
        ? new LoginWithAmazon({
            tokenUrl: options.config.lwaTokenUrl,
            clientId,
            clientSecret,
            now: this.now,
            // AcceptGrant exchanges its code while Alexa waits (8 s, 7 s in the forwarder).
            timeoutMs: LWA_TIMEOUT_MS,
          })
        : undefined;
  }

  get configured(): boolean {
    return this.lwa !== undefined;
  }

  /**
   * Exchanges the grant code of an AcceptGrant directive and stores the tokens durably before returning,
   * so that once Alexa has its answer the tokens survive a crash. Rejects only with an AcceptGrantError.
   */
  async acceptGrant(userId: string, code: string): Promise<void> {
    if (!this.lwa) throw new AcceptGrantError(NOT_CONFIGURED);
    let tokens: Awaited<ReturnType<LoginWithAmazon["exchangeCode"]>>;
    try {
      tokens = await this.lwa.exchangeCode(code);
    } catch (error) {
      const message = this.acceptGrantProblem(error);
      this.log.warn({ user: userId, err: message }, "AcceptGrant failed");
      throw new AcceptGrantError(message, { cause: error });
    }
    try {
      this.store.alexaGrants.save({ userId, ...tokens }, this.now());
    } catch (error) {
      this.log.error({ user: userId, err: (error as Error).message }, "could not store the event-gateway tokens");
      throw new AcceptGrantError("Hearth could not store the event-gateway tokens", { cause: error });
    }
    this.log.info({ user: userId }, "Alexa event-gateway tokens stored: proactive reports are on for this user");
  }

  private acceptGrantProblem(error: unknown): string {
    if (!(error instanceof LwaError)) return "Login with Amazon could not be asked for the event-gateway tokens";
    switch (error.code) {
      case "invalid_grant":
        return "Login with Amazon refused the grant code (invalid_grant): it expired or was used already; disable and re-enable the skill to try again";
      case "invalid_client":
      case "unauthorized_client":
        return `Login with Amazon refused Hearth's credentials (${error.code}): alexa.clientId and alexa.clientSecret must be the skill's Alexa Skill Messaging credentials (console → Build → Permissions), not the account-linking ones`;
      default:
        return error.message;
    }
  }

  /**
   * The users events go to: those whose grant is active. None while Send Alexa Events is not configured:
   * no token could be refreshed, and this is asked on every state change, where the query was a tenth of a
   * ten-light command's CPU in a house with no Alexa at all.
   */
  recipients(): string[] {
    return this.configured ? this.store.alexaGrants.active() : [];
  }

  /**
   * POSTs `build(token)` to the gateway for one user; `what` names the event in logs ("ChangeReport of
   * kitchen-light"). `build` is called again with the new token after a refresh, since the token also
   * goes inside the event. Never rejects.
   */
  async send(userId: string, build: (token: string) => object, what: string): Promise<SendOutcome> {
    let outcome: SendOutcome;
    try {
      outcome = await this.deliver(userId, build, what);
    } catch (error) {
      this.log.error({ user: userId, what, err: (error as Error).message }, "could not send an event to Alexa");
      outcome = "failed";
    }
    this.metrics?.alexaEventSent(what, outcome);
    return outcome;
  }

  /** Cancels retries waiting for their turn and requests in flight; what they were sending is lost. */
  stop(): void {
    if (!this.stopping.signal.aborted) this.stopping.abort();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async deliver(userId: string, build: (token: string) => object, what: string): Promise<SendOutcome> {
    if (this.stopped) return "failed";
    const grant = this.store.alexaGrants.get(userId);
    if (grant?.state !== "active") return "dropped";
    const first = await this.validToken(grant);
    if (!("token" in first)) return first.outcome;
    let token = first.token;
    let reauthorized = false;
    let retries = 0;
    for (;;) {
      if (this.stopped) return "failed";
      const answer = await this.post(token, build(token));
      if (this.stopped) return "failed";
      if ("status" in answer && answer.status >= 200 && answer.status < 300) {
        this.store.alexaGrants.recordEvent(userId, this.now());
        return "sent";
      }
      if ("status" in answer && answer.status === 401) {
        if (reauthorized) {
          this.markDead(
            userId,
            "unauthorized",
            `Amazon's event gateway refuses the token even after a refresh: ${RELINK}`,
            what,
          );
          return "failed";
        }
        reauthorized = true;
        const refreshed = await this.tokenAfterRejection(userId, token);
        if (!("token" in refreshed)) return refreshed.outcome;
        token = refreshed.token;
        continue;
      }
      if ("status" in answer && answer.status === 403) return this.forbidden(userId, answer.code, what);
      if (retryable(answer)) {
        const wait = this.retryDelaysMs[retries];
        if (wait !== undefined) {
          retries++;
          this.log.debug(
            { user: userId, what, answer: answerText(answer), retryInMs: wait },
            "retrying an Alexa event",
          );
          if (await this.pause(wait)) continue;
          return "failed";
        }
        const message = `Amazon's event gateway answered ${answerText(answer)} after ${retries + 1} attempts`;
        this.log.warn({ user: userId, what }, message);
        this.store.alexaGrants.recordError(userId, message, this.now());
        return "failed";
      }
      // 400, 413 and the unexpected: the event itself is wrong, and sending it again changes nothing.
      const description = "status" in answer ? shortText(answer.description) : undefined;
      this.log.warn(
        { user: userId, what, answer: answerText(answer), ...(description ? { description } : {}) },
        "Amazon's event gateway refused an event",
      );
      this.store.alexaGrants.recordError(userId, `Amazon refused ${what}: ${answerText(answer)}`, this.now());
      return "failed";
    }
  }

  private forbidden(userId: string, code: string | undefined, what: string): SendOutcome {
    if (code === "SKILL_DISABLED_EXCEPTION") {
      this.markDead(userId, "disabled", SKILL_DISABLED, what);
      return "dropped";
    }
    const hint = (code ? FORBIDDEN_HINTS[code] : undefined) ?? "check the skill's permissions and region";
    const message = `Amazon's event gateway refused ${what} (403${code ? ` ${code}` : ""}): ${hint}`;
    const now = this.now();
    this.log.warn({ user: userId, what, code }, message);
    this.store.alexaGrants.recordError(userId, message, now);
    this.store.grants.recordLinkError(userId, "alexa", message, now);
    return "failed";
  }

  /** The grant stops: no event is sent for this user until the skill is linked again. */
  private markDead(userId: string, state: "disabled" | "unauthorized", message: string, what: string): void {
    const now = this.now();
    this.log.warn({ user: userId, what, state }, `stopped sending Alexa events for a user: ${message}`);
    this.store.alexaGrants.markState(userId, state, message, now);
    // A disabled skill is the user unlinking; refused tokens are a link that stopped working.
    this.store.grants.recordLinkError(userId, "alexa", message, now, state === "disabled" ? "unlinked" : "broken");
  }

  /** The stored token, or a refreshed one when it has less than the margin left. */
  private async validToken(grant: AlexaGrantRecord): Promise<TokenResult> {
    if (grant.expiresAt - this.now() > REFRESH_MARGIN_MS) return { token: grant.accessToken };
    const refreshed = await this.refreshShared(grant);
    // A refresh that failed for a passing reason: the old token still works for its last minutes.
    if (!("token" in refreshed) && refreshed.transient && grant.expiresAt > this.now()) {
      return { token: grant.accessToken };
    }
    return refreshed;
  }

  /** After a 401: a token another send refreshed meanwhile is used as it is, otherwise one is refreshed. */
  private async tokenAfterRejection(userId: string, rejected: string): Promise<TokenResult> {
    const grant = this.store.alexaGrants.get(userId);
    if (grant?.state !== "active") return { outcome: "dropped" };
    if (grant.accessToken !== rejected && grant.expiresAt - this.now() > REFRESH_MARGIN_MS) {
      return { token: grant.accessToken };
    }
    return this.refreshShared(grant);
  }

  private refreshShared(grant: AlexaGrantRecord): Promise<TokenResult> {
    let pending = this.refreshing.get(grant.userId);
    if (!pending) {
      pending = this.refresh(grant).finally(() => this.refreshing.delete(grant.userId));
      this.refreshing.set(grant.userId, pending);
    }
    return pending;
  }

  private async refresh(grant: AlexaGrantRecord): Promise<TokenResult> {
    const { userId } = grant;
    if (!this.lwa) {
      this.metrics?.alexaTokenRefreshed("not_configured");
      this.store.alexaGrants.recordError(
        userId,
        `cannot refresh the event-gateway token: ${NOT_CONFIGURED}`,
        this.now(),
      );
      return { outcome: "failed", transient: true };
    }
    let tokens: Awaited<ReturnType<LoginWithAmazon["refresh"]>>;
    try {
      tokens = await this.lwa.refresh(grant.refreshToken);
    } catch (error) {
      const deadGrant = error instanceof LwaError && error.code === "invalid_grant";
      this.metrics?.alexaTokenRefreshed(deadGrant ? "invalid_grant" : "error");
      if (deadGrant) {
        this.markDead(
          userId,
          "unauthorized",
          `Login with Amazon no longer accepts the event-gateway refresh token (invalid_grant): ${RELINK}`,
          "token refresh",
        );
        return { outcome: "failed" };
      }
      const message = `could not refresh the event-gateway token: ${(error as Error).message}`;
      this.log.warn({ user: userId }, message);
      this.store.alexaGrants.recordError(userId, message, this.now());
      return { outcome: "failed", transient: true };
    }
    this.metrics?.alexaTokenRefreshed("ok");
    const current = this.store.alexaGrants.get(userId);
    if (current?.state !== "active") return { outcome: "dropped" };
    // Linked again while the refresh ran: the new grant's tokens win over the old grant's refresh.
    if (current.refreshToken !== grant.refreshToken) return { token: current.accessToken };
    this.store.alexaGrants.updateTokens(userId, tokens, this.now());
    this.log.debug({ user: userId }, "refreshed the Alexa event-gateway token");
    return { token: tokens.accessToken };
  }

  private async post(token: string, event: object): Promise<GatewayAnswer> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(event),
        signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.stopping.signal]),
      });
      text = await response.text();
    } catch (error) {
      // A send aborted by stop() is not the gateway's doing.
      if (!this.stopped) this.metrics?.alexaGatewayAnswered("network_error");
      const timedOut = (error as Error).name === "TimeoutError";
      return {
        error: timedOut ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : `could not connect to ${this.url}`,
      };
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    this.metrics?.alexaGatewayAnswered(response.status);
    const exception = GatewayExceptionSchema.safeParse(body);
    return {
      status: response.status,
      code: exception.success ? exception.data.payload.code : undefined,
      description: exception.success ? exception.data.payload.description : undefined,
    };
  }

  /** Resolves true after `ms`, or false as soon as the gateway stops. */
  private pause(ms: number): Promise<boolean> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onStop = () => resolve(false);
      signal.addEventListener("abort", onStop, { once: true });
      this.sleep(ms, signal).then(
        () => {
          signal.removeEventListener("abort", onStop);
          resolve(!signal.aborted);
        },
        () => {
          signal.removeEventListener("abort", onStop);
          resolve(false);
        },
      );
    });
  }
}
