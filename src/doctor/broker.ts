/**
 * Hearth itself and its MQTT broker.
 *
 * - `hearth`: whether a daemon answers `/healthz` at the configured HTTP address, and which version.
 * - `broker`: the embedded broker's port is free (or Hearth holds it); an external broker accepts the
 *   bridge's credentials; `broker.acl`: the broker lets the bridge subscribe to every node's status and
 *   read back what it publishes under the prefix; `broker.anonymous`: a client without credentials is
 *   refused.
 *
 * While Hearth runs, its own connection proves the credentials and the doctor does not log in as the
 * bridge: with mosquitto's `use_username_as_clientid` (docs/mosquitto.md) a second login with the same
 * username takes the running bridge's session over and disconnects it.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { MqttConnectError, MqttConnection, redactUrl } from "../devices/mqtt-connection.ts";
import { Topics } from "../devices/protocol.ts";
import { VERSION } from "../version.ts";
import { type Check, type Finding, finding, Skip } from "./check.ts";
import type { DaemonStatus, DoctorContext } from "./context.ts";

const CONNECT_TIMEOUT_MS = 3_000;
const ECHO_TIMEOUT_MS = 2_000;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/** What MQTT 3.1.1 CONNACK return codes mean, for people (MQTT 3.1.1 §3.2.2.3). */
export const CONNACK_MEANINGS: Record<number, string> = {
  1: "the broker does not speak MQTT 3.1.1",
  2: "the broker refused the client id",
  3: "the broker is up but its MQTT service is unavailable",
  4: "bad user name or password",
  5: "not authorised",
};

const START_HEARTH =
  "start it: `hearth start`, or `systemctl start hearth` where it runs as a service; if it runs elsewhere, set HEARTH_URL";

export const hearthCheck: Check = {
  id: "hearth",
  async run(ctx) {
    const daemon = await ctx.daemon();
    if (daemon.state === "stopped") {
      return [finding("hearth", "warn", `Hearth is not running at ${daemon.url} (${daemon.reason})`, START_HEARTH)];
    }
    if (daemon.state === "foreign") {
      return [
        finding(
          "hearth",
          "error",
          `something other than Hearth answers at ${daemon.url} (${daemon.detail})`,
          "another program holds Hearth's HTTP port: stop it, or give Hearth another port (http.port, HEARTH_HTTP_PORT)",
        ),
      ];
    }
    const findings: Finding[] = [];
    if (!daemon.database) {
      findings.push(
        finding(
          "hearth",
          "error",
          `Hearth runs at ${daemon.url} but cannot use its database`,
          "look for database errors in Hearth's log (journalctl -u hearth) and restart it",
        ),
      );
    }
    if (daemon.version !== VERSION) {
      findings.push(
        finding(
          "hearth",
          "warn",
          `the running Hearth is version ${daemon.version}, this command is ${VERSION}`,
          "restart Hearth after an upgrade (systemctl restart hearth)",
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(finding("hearth", "ok", `Hearth ${daemon.version} is running at ${daemon.url}`));
    }
    return findings;
  },
};

function brokerHost(ctx: DoctorContext): string {
  const { mqtt } = ctx.config;
  return mqtt.url ? new URL(mqtt.url).hostname : mqtt.host;
}

/** The embedded broker's address as a client reaches it. */
function embeddedUrl(ctx: DoctorContext): string {
  const { host, port } = ctx.config.mqtt;
  const reachable = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `mqtt://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

/** Whether the embedded broker could listen where the config says: the port is tried and let go at once. */
function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

function connectFailure(id: string, url: string, error: unknown, who: string): Finding {
  if (error instanceof MqttConnectError && error.returnCode !== undefined) {
    const meaning = CONNACK_MEANINGS[error.returnCode] ?? "refused";
    const credentials = error.returnCode === 4 || error.returnCode === 5;
    return finding(
      id,
      "error",
      `the broker at ${url} refused ${who} (CONNACK ${error.returnCode}: ${meaning})`,
      credentials
        ? "the bridge's line in mosquitto's password_file is missing or has another password than mqtt.password: " +
            "mosquitto_passwd -b <password_file> <mqtt.username> <mqtt.password>, then systemctl reload mosquitto " +
            "(docs/mosquitto.md#the-bridges-account-and-hearths-settings)"
        : "check the broker's log; Hearth needs an MQTT 3.1.1 broker such as mosquitto 2",
    );
  }
  const message = (error as Error).message;
  const tls = /certificate|self.signed|SSL|TLS/i.test(message);
  return finding(
    id,
    "error",
    `no MQTT broker answers at ${url}: ${message}`,
    tls
      ? "the broker's certificate is not trusted here: use one from a CA this machine trusts, or add the CA with NODE_EXTRA_CA_CERTS"
      : "start the broker (systemctl start mosquitto) or correct mqtt.url (HEARTH_MQTT_URL)",
  );
}

/** Granted QoS per topic; mqtt.js rejects a SUBACK with a refusal in it but keeps the packet. */
async function grantedCodes(connection: MqttConnection, topics: string[]): Promise<number[]> {
  try {
    return await connection.subscribe(topics, 1);
  } catch (error) {
    const granted = (error as { packet?: { granted?: unknown[] } }).packet?.granted;
    if (!granted) throw error;
    return granted.map((grant) => (typeof grant === "number" ? grant : (grant as { qos: number }).qos));
  }
}

/** Subscribes to a probe topic, publishes to it and waits for the message to come back. */
async function echoes(connection: MqttConnection, topic: string): Promise<boolean> {
  const payload = randomBytes(8).toString("hex");
  const heard = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ECHO_TIMEOUT_MS);
    connection.onMessage((message) => {
      if (message.topic === topic && message.payload.toString() === payload) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  const [granted] = await grantedCodes(connection, [topic]);
  if (granted === undefined || granted > 1) return false;
  await connection.publish(topic, payload, { qos: 1 });
  return heard;
}

async function aclFindings(ctx: DoctorContext, connection: MqttConnection): Promise<Finding[]> {
  const { mqtt } = ctx.config;
  const topics = new Topics(mqtt.topicPrefix);
  const aclFix =
    `the ACL needs \`user ${mqtt.username}\` with \`topic readwrite ${mqtt.topicPrefix}/#\`, then systemctl reload mosquitto ` +
    "(docs/mosquitto.md#the-acl-file)";
  const statusTopic = topics.status("+");
  const [granted] = await grantedCodes(connection, [statusTopic]);
  if (granted === undefined || granted > 1) {
    return [finding("broker.acl", "error", `the broker refuses the bridge's subscription to ${statusTopic}`, aclFix)];
  }
  const probe = `${mqtt.topicPrefix}/bridge/doctor-${randomBytes(4).toString("hex")}`;
  if (!(await echoes(connection, probe))) {
    return [
      finding(
        "broker.acl",
        "error",
        `the broker drops what the bridge publishes under ${mqtt.topicPrefix}/ (a probe on ${probe} never came back)`,
        aclFix,
      ),
    ];
  }
  return [
    finding(
      "broker.acl",
      "ok",
      `the bridge may subscribe to ${statusTopic} and publish under ${mqtt.topicPrefix}/ (a probe came back)`,
    ),
  ];
}

async function anonymousFinding(url: string): Promise<Finding[]> {
  let connection: MqttConnection;
  try {
    connection = await MqttConnection.connect({
      url,
      clientId: `hearth-doctor-${randomBytes(4).toString("hex")}`,
      reconnect: false,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
  } catch (error) {
    if (error instanceof MqttConnectError && error.returnCode !== undefined) {
      return [finding("broker.anonymous", "ok", `the broker at ${redactUrl(url)} refuses clients without credentials`)];
    }
    // Unreachable: the broker finding says so already.
    return [];
  }
  await connection.close();
  return [
    finding(
      "broker.anonymous",
      "error",
      `the broker at ${redactUrl(url)} accepts clients without credentials`,
      "set `allow_anonymous false` in mosquitto's configuration and restart it (docs/mosquitto.md#the-broker-configuration)",
    ),
  ];
}

function mismatch(daemon: Extract<DaemonStatus, { state: "running" }>, expected: string): Finding {
  return finding(
    "broker",
    "warn",
    `the running Hearth uses the ${daemon.mqtt.mode} broker, but this configuration the ${expected} one`,
    "run hearth doctor with the daemon's configuration (the same -c file and HEARTH_* variables)",
  );
}

async function embedded(ctx: DoctorContext, daemon: DaemonStatus): Promise<Finding[]> {
  const { host, port } = ctx.config.mqtt;
  const where = `${host}:${port}`;
  if (daemon.state === "running") {
    if (daemon.mqtt.mode !== "embedded") return [mismatch(daemon, "embedded")];
    if (!daemon.mqtt.connected) {
      return [
        finding(
          "broker",
          "error",
          "Hearth runs, but its bridge is not connected to its own embedded broker",
          "look for MQTT errors in Hearth's log (journalctl -u hearth) and restart it",
        ),
      ];
    }
    const findings = [finding("broker", "ok", `Hearth's embedded broker runs on ${where}; the bridge is connected`)];
    if (port !== 0) findings.push(...(await anonymousFinding(embeddedUrl(ctx))));
    return findings;
  }
  if (port === 0) return [finding("broker", "ok", "the embedded broker takes a free port at start (mqtt.port 0)")];
  const error = await tryListen(host, port);
  if (!error) return [finding("broker", "ok", `${where} is free for the embedded broker`)];
  if (error.code === "EADDRINUSE") {
    return [
      finding(
        "broker",
        "error",
        `${where} is taken by another program (a mosquitto?), so the embedded broker cannot start`,
        "stop that program, give the embedded broker another port (mqtt.port, HEARTH_MQTT_PORT), or use that broker with mqtt.url (docs/mosquitto.md)",
      ),
    ];
  }
  if (error.code === "EADDRNOTAVAIL") {
    return [
      finding(
        "broker",
        "error",
        `${host} is not an address of this machine`,
        "set mqtt.host (HEARTH_MQTT_HOST) to one of its addresses, or 0.0.0.0",
      ),
    ];
  }
  if (error.code === "EACCES") {
    return [
      finding(
        "broker",
        "error",
        `this user may not listen on port ${port}`,
        "use a port above 1023 (mqtt.port), the MQTT default 1883",
      ),
    ];
  }
  return [
    finding(
      "broker",
      "error",
      `the embedded broker could not listen on ${where}: ${error.message}`,
      "check mqtt.host and mqtt.port",
    ),
  ];
}

async function external(ctx: DoctorContext, daemon: DaemonStatus): Promise<Finding[]> {
  const { mqtt } = ctx.config;
  const url = mqtt.url as string;
  const shown = redactUrl(url);
  if (daemon.state === "running") {
    if (daemon.mqtt.mode !== "external") return [mismatch(daemon, "external")];
    const findings: Finding[] = daemon.mqtt.connected
      ? [
          finding(
            "broker",
            "ok",
            `Hearth is connected to ${shown} as ${mqtt.username} (the doctor does not log in as the bridge while Hearth runs)`,
          ),
        ]
      : [
          finding(
            "broker",
            "error",
            `Hearth runs, but is not connected to the broker at ${shown}`,
            "check that mosquitto runs (systemctl status mosquitto) and that its log accepts the bridge's login; " +
              "stop Hearth and run hearth doctor again to test the credentials (docs/mosquitto.md#troubleshooting)",
          ),
        ];
    return [...findings, ...(await anonymousFinding(url))];
  }
  let connection: MqttConnection;
  try {
    connection = await MqttConnection.connect({
      url,
      clientId: `hearth-doctor-${randomBytes(4).toString("hex")}`,
      username: mqtt.username as string,
      password: mqtt.password as string,
      reconnect: false,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      keepaliveSeconds: 10,
    });
  } catch (error) {
    return [connectFailure("broker", shown, error, `the bridge's login as ${mqtt.username}`)];
  }
  const findings = [finding("broker", "ok", `the bridge logs in to ${shown} as ${mqtt.username}`)];
  try {
    findings.push(...(await aclFindings(ctx, connection)));
  } finally {
    await connection.close();
  }
  findings.push(...(await anonymousFinding(url)));
  return findings;
}

export const brokerCheck: Check = {
  id: "broker",
  network: (ctx) => !LOOPBACK.test(brokerHost(ctx)) && !["0.0.0.0", "::"].includes(brokerHost(ctx)),
  async run(ctx) {
    const daemon = await ctx.daemon();
    if (ctx.config.mqtt.url) return external(ctx, daemon);
    if (daemon.state === "foreign") return new Skip("something other than Hearth holds its HTTP port (see hearth)");
    return embedded(ctx, daemon);
  },
};
