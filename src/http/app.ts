/**
 * Assembles the express app: security headers, request logs with secrets redacted, health, the admin
 * API, and one JSON error handler. Body parsers are mounted per router, never globally: later routes
 * (webhooks) need the raw bytes.
 */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import helmet from "helmet";
import { alexaRouter } from "../alexa/route.ts";
import type { AlexaSmartHome } from "../alexa/smart-home.ts";
import type { GoogleFulfillment } from "../google/fulfillment.ts";
import { googleRouter } from "../google/route.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/index.ts";
import { metricsRouter } from "../metrics/route.ts";
import { authorizeRouter } from "../oauth/authorize.ts";
import type { GrantService } from "../oauth/grants.ts";
import { LoginThrottle } from "../oauth/login-throttle.ts";
import type { PasswordHasher } from "../oauth/passwords.ts";
import { tokenRouter } from "../oauth/token.ts";
import { otaDownloadRouter } from "../ota/routes.ts";
import { hookRouter } from "../webhooks/hook-route.ts";
import { type AdminApiDeps, adminApi } from "./admin-api.ts";
import { claimRouter } from "./claim-route.ts";
import { errorHandler, notFound } from "./errors.ts";
import { requestLog } from "./request-log.ts";

export interface HealthSource {
  database(): boolean;
  mqtt(): { connected: boolean; mode: "embedded" | "external" };
}

export interface AppDeps extends AdminApiDeps {
  log: Logger;
  health: HealthSource;
  version: string;
  /** Account linking: the grant service and the password hasher of the login page. */
  oauth: { grants: GrantService; hasher: PasswordHasher };
  alexa: AlexaSmartHome;
  google: GoogleFulfillment;
  /** Serves `GET /metrics` and is told of every request; absent when `metrics.enabled` is false. */
  metrics?: Metrics | undefined;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  // No ETag: no client of these routes sends If-None-Match, and express would hash every body it sends
  // (a SYNC of 1,000 devices is some 300 KB).
  app.set("etag", false);
  app.set("trust proxy", deps.config.http.trustProxy ? 1 : false);
  app.use(helmet({ contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: null } } }));
  app.use(requestLog(deps.log, deps.metrics?.httpRequest));

  app.get("/healthz", (_req, res) => {
    const database = deps.health.database();
    const mqtt = deps.health.mqtt();
    const ok = database && mqtt.connected;
    res.status(ok ? 200 : 503).json({
      status: ok ? "ok" : "degraded",
      version: deps.version,
      database: { ok: database },
      mqtt,
    });
  });

  // Mounted at the app itself, ahead of every router: no limiter or body parser of another route sees a scrape.
  if (deps.metrics) app.use(metricsRouter(deps.metrics, deps.config.metrics.token));

  // The assistants' routes first: every request walks the routers mounted before its own, and these are
  // the ones a house sends many of.
  app.use(
    alexaRouter({
      config: deps.config,
      smartHome: deps.alexa,
      tokens: deps.oauth.grants,
      log: deps.log,
      metrics: deps.metrics,
    }),
  );
  app.use(
    googleRouter({ config: deps.config, fulfillment: deps.google, tokens: deps.oauth.grants, metrics: deps.metrics }),
  );
  // Account linking: login and consent pages, token and revocation endpoints. Failed logins and failed
  // client authentications are throttled separately, so a login flood cannot slow Alexa's token refresh.
  app.use(
    authorizeRouter({
      config: deps.config,
      store: deps.store,
      codes: deps.oauth.grants,
      hasher: deps.oauth.hasher,
      throttle: new LoginThrottle(),
    }),
  );
  app.use(
    tokenRouter({
      store: deps.store,
      grants: deps.oauth.grants,
      throttle: new LoginThrottle(),
      log: deps.log,
      metrics: deps.metrics,
    }),
  );
  app.use(hookRouter(deps));
  // Before the admin API: a board claiming itself has a claim token, not an admin token.
  app.use(claimRouter(deps));
  if (deps.ota) app.use(otaDownloadRouter({ ota: deps.ota, config: deps.config }));
  app.use("/api/v1", adminApi(deps));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}

export class HttpServer {
  private server: Server | undefined;

  constructor(
    private readonly app: Express,
    private readonly host: string,
    private readonly port: number,
  ) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${address?.port ?? this.port}`;
  }

  async start(): Promise<void> {
    const server = this.app.listen(this.port, this.host);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    // Slowloris protection: a client must send its headers and body within these limits.
    server.headersTimeout = 15_000;
    server.requestTimeout = 30_000;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Requests still running after the grace period are cut by the daemon's hard timeout.
    });
  }
}
