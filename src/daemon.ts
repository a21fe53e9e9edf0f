/**
 * The composition root: builds every component from the config, starts them in dependency order and
 * stops them in reverse. Components never construct each other; they get what they need here.
 */
import { resolve } from "node:path";
import { AlexaEventGateway } from "./alexa/event-gateway.ts";
import { AlexaProactiveReports } from "./alexa/proactive-reports.ts";
import { AlexaSmartHome } from "./alexa/smart-home.ts";
import { EventBus } from "./bus.ts";
import { type Config, developmentDefaultWarnings } from "./config/index.ts";
import { EmbeddedBroker } from "./devices/broker.ts";
import { CommandService } from "./devices/commands.ts";
import { DeviceLink } from "./devices/link.ts";
import { mosquittoAccounts } from "./devices/mosquitto-accounts.ts";
import { Topics } from "./devices/protocol.ts";
import { GoogleFulfillment } from "./google/fulfillment.ts";
import { HomeGraph } from "./google/homegraph.ts";
import { GoogleReportState } from "./google/report-state.ts";
import { TwoFactor } from "./google/two-factor.ts";
import { createApp, HttpServer } from "./http/app.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics/index.ts";
import { GrantService } from "./oauth/grants.ts";
import { passwordHasher } from "./oauth/passwords.ts";
import { OtaService, otaBaseUrl } from "./ota/service.ts";
import { SceneService } from "./scenes/index.ts";
import { generateSecret } from "./security/secrets.ts";
import { Store } from "./store/index.ts";
import { VERSION } from "./version.ts";
import { WebhookDispatcher } from "./webhooks/outbox.ts";

/** The bridge's own MQTT username. `_` cannot appear in a node id, so no node can take this name. */
export const BRIDGE_USERNAME = "hearth_bridge";

interface Stoppable {
  name: string;
  stop(): Promise<void> | void;
}

export class Daemon {
  readonly bus = new EventBus();
  readonly store: Store;
  readonly broker: EmbeddedBroker | undefined;
  readonly link: DeviceLink;
  readonly commands: CommandService;
  readonly scenes: SceneService;
  readonly alexaGateway: AlexaEventGateway;
  readonly alexaReports: AlexaProactiveReports;
  readonly alexa: AlexaSmartHome;
  readonly google: GoogleFulfillment;
  readonly googleReports: GoogleReportState;
  readonly webhooks: WebhookDispatcher;
  readonly ota: OtaService;
  readonly http: HttpServer;
  /** Undefined when `metrics.enabled` is false. */
  readonly metrics: Metrics | undefined;
  private readonly started: Stoppable[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    /** The Metrics class when `metrics.enabled`, imported by start(). */
    MetricsClass: typeof Metrics | undefined,
  ) {
    const topics = new Topics(config.mqtt.topicPrefix);
    this.store = Store.open(resolve(config.dataDir), (error) =>
      log.error({ err: error }, "a queued database write failed"),
    );
    // Its own registry, and before the components that report to it.
    this.metrics = MetricsClass
      ? new MetricsClass({
          bus: this.bus,
          store: this.store,
          mqttConnected: () => this.link.connected,
          version: VERSION,
        })
      : undefined;
    const bridgePassword = generateSecret(32);
    this.broker = config.mqtt.url
      ? undefined
      : new EmbeddedBroker({
          host: config.mqtt.host,
          port: config.mqtt.port,
          topics,
          nodes: this.store.nodes,
          bridge: { username: BRIDGE_USERNAME, password: bridgePassword },
          maxKeepaliveSeconds: config.mqtt.maxKeepaliveSeconds,
          log: log.child({ component: "broker" }),
        });
    this.link = new DeviceLink({
      url: config.mqtt.url ?? (() => (this.broker as EmbeddedBroker).url),
      username: config.mqtt.url ? (config.mqtt.username as string) : BRIDGE_USERNAME,
      password: config.mqtt.url ? (config.mqtt.password as string) : bridgePassword,
      // aedes speaks 3.1.1 only, and has no queue limit to outgrow.
      protocolVersion: config.mqtt.url ? 5 : 4,
      topics,
      store: this.store,
      bus: this.bus,
      log: log.child({ component: "link" }),
    });
    this.commands = new CommandService({
      store: this.store,
      link: this.link,
      bus: this.bus,
      log: log.child({ component: "commands" }),
      timeoutMs: config.commands.timeoutMs,
      desiredTtlSeconds: config.commands.desiredTtlSeconds,
    });
    this.scenes = new SceneService({
      store: this.store,
      commands: this.commands,
      bus: this.bus,
      log: log.child({ component: "scenes" }),
      configScenes: config.scenes,
    });
    const grants = new GrantService(this.store);
    this.alexaGateway = new AlexaEventGateway({
      store: this.store,
      config: config.alexa,
      log: log.child({ component: "alexa-gateway" }),
      metrics: this.metrics,
    });
    this.alexa = new AlexaSmartHome({
      config,
      store: this.store,
      bus: this.bus,
      commands: this.commands,
      scenes: this.scenes,
      gateway: this.alexaGateway,
      log: log.child({ component: "alexa" }),
    });
    this.alexaReports = new AlexaProactiveReports({
      bus: this.bus,
      store: this.store,
      config,
      scenes: this.scenes,
      gateway: this.alexaGateway,
      log: log.child({ component: "alexa-reports" }),
    });
    this.googleReports = new GoogleReportState({
      bus: this.bus,
      store: this.store,
      config,
      homegraph: new HomeGraph({ config: config.google, log: log.child({ component: "homegraph" }) }),
      log: log.child({ component: "google-reports" }),
      metrics: this.metrics,
    });
    this.google = new GoogleFulfillment({
      config,
      store: this.store,
      bus: this.bus,
      commands: this.commands,
      scenes: this.scenes,
      twoFactor: new TwoFactor({ store: this.store, config, log: log.child({ component: "two-factor" }) }),
      log: log.child({ component: "google" }),
      onPending: (pending) => this.googleReports.followUp(pending),
    });
    this.webhooks = new WebhookDispatcher({
      store: this.store,
      bus: this.bus,
      config: config.webhooks,
      log: log.child({ component: "webhooks" }),
      metrics: this.metrics,
    });
    this.ota = new OtaService({
      store: this.store,
      commands: this.commands,
      bus: this.bus,
      log: log.child({ component: "ota" }),
      config,
      baseUrl: () => otaBaseUrl(config, Number(new URL(this.http.url).port)),
    });
    const broker = this.broker;
    const accounts = mosquittoAccounts(config);
    const app = createApp({
      config,
      store: this.store,
      commands: this.commands,
      link: this.link,
      scenes: this.scenes,
      log: log.child({ component: "http" }),
      version: VERSION,
      ...(broker ? { disconnectNode: (id: string) => broker.disconnect(id), embeddedPort: () => broker.port } : {}),
      ...(accounts ? { accounts } : {}),
      oauth: { grants, hasher: passwordHasher },
      alexa: this.alexa,
      google: this.google,
      webhooks: this.webhooks,
      ota: this.ota,
      metrics: this.metrics,
      health: {
        database: () => this.store.healthy(),
        mqtt: () => ({ connected: this.link.connected, mode: broker ? "embedded" : "external" }),
      },
    });
    this.http = new HttpServer(app, config.http.host, config.http.port);
    // Link changes are recorded by the store (the CLI changes links too); the daemon tells the bus.
    this.store.grants.onLinkChanged((change) => this.bus.emit("link.changed", change));
    this.bus.onListenerError(({ owner, event, error }) =>
      log.error({ owner, event, err: error }, "event listener failed"),
    );
  }

  /** Starts everything; on a failure, what already started is stopped again before the error is thrown. */
  static async start(config: Config, log: Logger): Promise<Daemon> {
    for (const warning of developmentDefaultWarnings(config)) log.warn(`DEVELOPMENT DEFAULT: ${warning}`);
    // Imported only when enabled: prom-client costs a start about 100 ms and 12 MiB of memory (measured alone).
    const MetricsClass = config.metrics.enabled ? (await import("./metrics/index.ts")).Metrics : undefined;
    const daemon = new Daemon(config, log, MetricsClass);
    try {
      await daemon.startComponents();
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return daemon;
  }

  private async startComponents(): Promise<void> {
    const { store, log } = this;
    this.started.push({ name: "store", stop: () => store.close() });
    const now = Date.now();
    const expired = store.commands.expirePending(now);
    if (expired > 0) log.warn({ expired }, "commands left pending by the previous run were marked expired");
    store.adminTokens.removeExpired(now);
    // A linked assistant that cannot be told about changes shows stale state: say so at every start.
    const platforms = new Set(store.oauthClients.list().map((client) => client.platform));
    if (platforms.has("alexa") && !this.alexaGateway.configured) {
      log.warn(
        "an Alexa client is registered but alexa.clientId/alexa.clientSecret are not set: Alexa learns of changes only when it asks (docs/alexa.md)",
      );
    }
    if (platforms.has("google") && !this.config.google.serviceAccountKeyPath) {
      log.warn(
        "a Google client is registered but google.serviceAccountKeyPath is not set: Google learns of changes only when it asks (docs/google.md)",
      );
    }
    // Nothing is online until the broker says so (retained status or a fresh announce).
    store.nodes.markAllOffline(now);

    if (this.broker) {
      const broker = this.broker;
      await broker.start();
      this.started.push({ name: "broker", stop: () => broker.stop() });
    }
    if (this.metrics) {
      const metrics = this.metrics;
      metrics.start();
      this.started.push({ name: "metrics", stop: () => metrics.stop() });
    }
    // Listening before the link starts, so that no change of the first connections is missed.
    this.alexaReports.start();
    this.started.push({ name: "alexa-reports", stop: () => this.alexaReports.stop() });
    this.started.push({ name: "alexa-gateway", stop: () => this.alexaGateway.stop() });
    this.googleReports.start();
    this.started.push({ name: "google-reports", stop: () => this.googleReports.stop() });
    // Also delivers what the previous run left pending.
    this.webhooks.start();
    this.started.push({ name: "webhooks", stop: () => this.webhooks.stop() });
    this.started.push({ name: "alexa", stop: () => this.alexa.stop() });
    this.started.push({ name: "google", stop: () => this.google.stop() });
    // Follows the nodes' update reports from the first message on; stopped before the command service, so
    // that a push cut short by the shutdown leaves its job to the next run instead of failing it.
    this.ota.start();
    try {
      await this.link.start();
    } catch (error) {
      this.ota.stop();
      throw error;
    }
    this.started.push({ name: "link", stop: () => this.link.stop() });
    this.commands.start();
    this.started.push({ name: "commands", stop: () => this.commands.stop() });
    this.started.push({ name: "ota", stop: () => this.ota.stop() });
    await this.http.start();
    this.started.push({ name: "http", stop: () => this.http.stop() });
  }

  get httpUrl(): string {
    return this.http.url;
  }

  get mqttUrl(): string {
    return this.broker ? this.broker.url : (this.config.mqtt.url as string);
  }

  /** Stops in reverse order; a component that fails to stop is logged and the others still stop. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const component of this.started.reverse()) {
        try {
          await component.stop();
        } catch (error) {
          this.log.error({ component: component.name, err: error }, "component failed to stop cleanly");
        }
      }
      this.started.length = 0;
    })();
    return this.stopping;
  }
}
