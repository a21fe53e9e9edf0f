/**
 * The one configuration schema: defaults, documentation and validation in one place. Every leaf can be
 * set in the config file (YAML or JSON) and overridden by an environment variable whose name is derived
 * from its path: `http.port` → `HEARTH_HTTP_PORT`, `mqtt.url` → `HEARTH_MQTT_URL`. A `_FILE` suffix
 * (`HEARTH_MQTT_PASSWORD_FILE`) reads the value from a file, for systemd credentials and secrets.
 */
import { z } from "zod";
import { DEFAULT_TOPIC_PREFIX } from "../devices/protocol.ts";
import { DEVICE_CLASSES } from "../model/index.ts";
import { SceneDefinitionSchema } from "../scenes/schema.ts";

export const ALEXA_REGIONS = ["NA", "EU", "FE"] as const;
/** `none`, an explicit yes (`ack`), or the user's PIN (`pin`) before a guarded command runs. */
export const TWO_FACTOR_POLICIES = ["none", "ack", "pin"] as const;
export type TwoFactorPolicy = (typeof TWO_FACTOR_POLICIES)[number];
export type AlexaRegion = (typeof ALEXA_REGIONS)[number];

/** What the user may say about one device, whatever its node declared. */
const DeviceOverrideSchema = z.strictObject({
  name: z.string().trim().min(1).max(64).optional(),
  class: z.enum(DEVICE_CLASSES).optional(),
  /** The room assistants put the device in when they first see it. */
  room: z.string().trim().min(1).max(64).optional(),
  /** What a guarded command needs on Google: see src/google/two-factor.ts for the defaults. */
  twoFactor: z.enum(TWO_FACTOR_POLICIES).optional(),
});

const port = z.number().int().min(0).max(65535);

export const ConfigSchema = z.strictObject({
  dataDir: z.string().min(1).default("./data").describe("Folder for the SQLite database and other state."),
  logLevel: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("Log level; logs are JSON lines on stdout."),
  publicUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("The public HTTPS URL Amazon and Google reach Hearth at (behind a TLS reverse proxy)."),
  shutdownTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe("Hard limit for a clean shutdown after SIGTERM/SIGINT; past it the process exits anyway."),
  http: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1").describe("Address the HTTP server binds to."),
      port: port.default(8080).describe("HTTP port (0 picks a free one)."),
      trustProxy: z
        .boolean()
        .default(false)
        .describe("Trust X-Forwarded-* from one reverse proxy in front (needed for correct client IPs)."),
      bodyLimitBytes: z.number().int().positive().default(65_536).describe("Largest request body accepted."),
    })
    .default({ host: "127.0.0.1", port: 8080, trustProxy: false, bodyLimitBytes: 65_536 }),
  mqtt: z
    .strictObject({
      url: z
        .url({ protocol: /^(mqtt|mqtts|tcp|tls)$/, hostname: /.+/ })
        .optional()
        .describe("Use this external broker (e.g. mosquitto) instead of the embedded one."),
      username: z.string().min(1).optional().describe("Bridge's username on the external broker."),
      password: z.string().min(1).optional().describe("Bridge's password on the external broker."),
      host: z.string().min(1).default("127.0.0.1").describe("Address the embedded broker binds to."),
      port: port.default(1883).describe("Port of the embedded broker (0 picks a free one)."),
      advertisedUrl: z
        .url({ protocol: /^(mqtt|mqtts)$/ })
        .optional()
        .describe("Broker URL printed for nodes by `hearth node add` (default: derived from the broker settings)."),
      nodeAccountsFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          "External mosquitto: its password_file; Hearth then adds and removes node lines itself (claims, `hearth node add|remove`).",
        ),
      reloadPidFile: z
        .string()
        .min(1)
        .optional()
        .describe("External mosquitto: its pid_file; Hearth sends the broker SIGHUP after changing nodeAccountsFile."),
      topicPrefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, "a topic prefix is plain levels without wildcards")
        .default(DEFAULT_TOPIC_PREFIX)
        .describe("Root of the node protocol topics."),
      maxKeepaliveSeconds: z
        .number()
        .int()
        .min(5)
        .max(3600)
        .default(120)
        .describe("Embedded broker: longest keepalive a node may ask for (offline detection is 1.5× this)."),
    })
    .default({ host: "127.0.0.1", port: 1883, topicPrefix: DEFAULT_TOPIC_PREFIX, maxKeepaliveSeconds: 120 }),
  commands: z
    .strictObject({
      timeoutMs: z
        .number()
        .int()
        .min(100)
        .max(60_000)
        .default(5000)
        .describe("How long a command waits for the node's confirmation (one retry with the same id included)."),
      desiredTtlSeconds: z
        .number()
        .int()
        .min(0)
        .default(600)
        .describe("A desired value younger than this is re-sent when its node comes back online (0: never)."),
    })
    .default({ timeoutMs: 5000, desiredTtlSeconds: 600 }),
  alexa: z
    .strictObject({
      forwarderSecret: z
        .string()
        .min(16, "use at least 16 characters (e.g. `openssl rand -hex 24`)")
        .optional()
        .describe(
          "Shared secret the Lambda forwarder sends in X-Hearth-Forwarder-Secret; when set, directives without it are refused.",
        ),
      region: z
        .enum(ALEXA_REGIONS)
        .default("NA")
        .describe("Amazon region of the skill's users: NA, EU (also India) or FE (also Australia)."),
      eventGatewayUrl: z
        .url({ protocol: /^https?$/ })
        .optional()
        .describe("Alexa event gateway URL (default: the region's https://api…amazonalexa.com/v3/events)."),
      lwaTokenUrl: z
        .url({ protocol: /^https?$/ })
        .default("https://api.amazon.com/auth/o2/token")
        .describe("Login with Amazon token endpoint used for AcceptGrant and event-gateway token refreshes."),
      clientId: z
        .string()
        .min(1)
        .optional()
        .describe("Alexa Skill Messaging client id (console → Build → Permissions → Send Alexa Events)."),
      clientSecret: z.string().min(1).optional().describe("Alexa Skill Messaging client secret."),
      commandTimeoutMs: z
        .number()
        .int()
        .min(500)
        .max(7000)
        .default(5000)
        .describe("How long an Alexa directive waits for the node; the answer must reach Amazon within 8 s."),
      changeReportDelayMs: z
        .number()
        .int()
        .min(0)
        .max(2500)
        .default(500)
        .describe(
          "Changes of one device within this window are sent as one ChangeReport (Amazon wants them within 3 s).",
        ),
      manufacturerName: z
        .string()
        .min(1)
        .max(128)
        .default("Hearth")
        .describe("Manufacturer name shown for every device in the Alexa app."),
    })
    .default({
      region: "NA",
      lwaTokenUrl: "https://api.amazon.com/auth/o2/token",
      commandTimeoutMs: 5000,
      changeReportDelayMs: 500,
      manufacturerName: "Hearth",
    }),
  google: z
    .strictObject({
      serviceAccountKeyPath: z
        .string()
        .min(1)
        .optional()
        .describe("Path of the Google service-account JSON key that may call HomeGraph (Report State, Request Sync)."),
      homegraphUrl: z
        .url({ protocol: /^https?$/ })
        .default("https://homegraph.googleapis.com")
        .describe("HomeGraph API base URL."),
      executeTimeoutMs: z
        .number()
        .int()
        .min(500)
        .max(8000)
        .default(2500)
        .describe("How long an EXECUTE waits for the node; a slow actuator past it is answered PENDING."),
      reportStateDelayMs: z
        .number()
        .int()
        .min(0)
        .max(5000)
        .default(500)
        .describe("State changes within this window are sent to HomeGraph as one Report State per user."),
      requestSyncDelayMs: z
        .number()
        .int()
        .min(0)
        .max(60_000)
        .default(2000)
        .describe("Registry changes within this window make one Request Sync."),
      pinAttempts: z
        .number()
        .int()
        .min(1)
        .max(20)
        .default(5)
        .describe("Wrong PINs a user may give within pinLockoutSeconds before guarded commands are refused."),
      pinLockoutSeconds: z
        .number()
        .int()
        .min(10)
        .max(86_400)
        .default(900)
        .describe("How long failed PIN attempts count, and how long a locked-out user waits."),
    })
    .default({
      homegraphUrl: "https://homegraph.googleapis.com",
      executeTimeoutMs: 2500,
      reportStateDelayMs: 500,
      requestSyncDelayMs: 2000,
      pinAttempts: 5,
      pinLockoutSeconds: 900,
    }),
  webhooks: z
    .strictObject({
      allowPrivateDestinations: z
        .boolean()
        .default(false)
        .describe("Let subscriptions deliver to loopback and private addresses (off: a guard against SSRF)."),
      requestsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .default(60)
        .describe("Inbound webhook calls accepted per hook and minute; more get 429."),
      deliveryTimeoutMs: z
        .number()
        .int()
        .min(1000)
        .max(60_000)
        .default(15_000)
        .describe("How long an outbound delivery waits for the receiver's answer."),
    })
    .default({ allowPrivateDestinations: false, requestsPerMinute: 60, deliveryTimeoutMs: 15_000 }),
  ota: z
    .strictObject({
      baseUrl: z
        .url({ protocol: /^https?$/, hostname: /.+/ })
        .max(200)
        .optional()
        .describe(
          "Where nodes download firmware images, as <baseUrl>/ota/<job>/<token> (default: publicUrl, else http://<http.host>:<port>).",
        ),
      maxImageBytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(4 * 1024 * 1024)
        .describe("Largest firmware image accepted by `hearth ota push` and POST /api/v1/nodes/:id/ota."),
      jobTimeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(86_400)
        .default(600)
        .describe("A firmware update that hears nothing from its node for this long ends as timeout."),
    })
    .default({ maxImageBytes: 4 * 1024 * 1024, jobTimeoutSeconds: 600 }),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true).describe("Serve Prometheus metrics at GET /metrics (docs/metrics.md)."),
      token: z
        .string()
        .min(16, "use at least 16 characters (e.g. `openssl rand -hex 24`)")
        .optional()
        .describe("When set, GET /metrics requires `Authorization: Bearer <token>`; unset, it is open to all."),
    })
    .default({ enabled: true }),
  scenes: z
    .array(SceneDefinitionSchema)
    .default([])
    .describe("Bridge-side scenes: a list of {id, name, actions: [{device, params}]} (JSON in the environment)."),
  devices: z
    .record(z.string(), DeviceOverrideSchema)
    .default({})
    .describe("Per-device overrides by device id: {name, class, room, twoFactor} (JSON in the environment)."),
});

export type Config = z.infer<typeof ConfigSchema>;
/** What a config file may hold: any subset of the schema. */
export type ConfigInput = z.input<typeof ConfigSchema>;
