import type { Config } from "./schema.ts";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/** One development default still in effect: what it exposes, and the setting that ends it. */
export interface DevelopmentDefault {
  /** The setting at fault, e.g. `publicUrl`. */
  setting: string;
  problem: string;
  fix: string;
}

/**
 * Development-only defaults still in effect. Each is logged as a warning at every start, so that an
 * installation exposed to a network never runs on them silently; `hearth doctor` lists them with their fix.
 */
export function developmentDefaults(config: Config): DevelopmentDefault[] {
  const found: DevelopmentDefault[] = [];
  const add = (setting: string, problem: string, fix: string) => found.push({ setting, problem, fix });
  if (!config.publicUrl) {
    add(
      "publicUrl",
      "publicUrl is not set: Alexa and Google cannot reach this bridge",
      "set HEARTH_PUBLIC_URL to its HTTPS address once a TLS reverse proxy is in front",
    );
  } else if (new URL(config.publicUrl).protocol === "http:") {
    add(
      "publicUrl",
      `publicUrl ${config.publicUrl} is plain HTTP: tokens and passwords would cross the network in clear`,
      "Amazon and Google require HTTPS: put a TLS reverse proxy in front and set HEARTH_PUBLIC_URL to its https:// address",
    );
  }
  if (!LOOPBACK.test(config.http.host) && !config.http.trustProxy) {
    add(
      "http.host",
      `the HTTP server listens on ${config.http.host} without TLS and without a trusted reverse proxy`,
      "put a TLS proxy in front and set http.trustProxy",
    );
  }
  if (!config.mqtt.url && !LOOPBACK.test(config.mqtt.host)) {
    add(
      "mqtt.host",
      `the embedded MQTT broker listens on ${config.mqtt.host} without TLS: node passwords cross the network in clear`,
      "use an external mosquitto with TLS (docs/mosquitto.md) for nodes on an untrusted network",
    );
  }
  const broker = config.mqtt.url ? new URL(config.mqtt.url) : undefined;
  if (broker && (broker.protocol === "mqtt:" || broker.protocol === "tcp:")) {
    const host = broker.hostname;
    if (!LOOPBACK.test(host))
      add(
        "mqtt.url",
        `the external broker ${host} is reached without TLS (mqtt://)`,
        "use mqtts:// for a broker on another machine",
      );
  }
  if (config.publicUrl && !config.alexa.forwarderSecret) {
    add(
      "alexa.forwarderSecret",
      "alexa.forwarderSecret is not set: POST /alexa/smarthome takes directives from anyone holding a token, not only from your Lambda",
      "set HEARTH_ALEXA_FORWARDER_SECRET here and HEARTH_FORWARDER_SECRET on the Lambda",
    );
  }
  // Behind a proxy too: one that forwards everything publishes the metrics with the rest.
  if (config.metrics.enabled && !config.metrics.token && !LOOPBACK.test(config.http.host)) {
    add(
      "metrics.token",
      `metrics.token is not set: GET /metrics answers anyone who reaches ${config.http.host}`,
      "set HEARTH_METRICS_TOKEN (e.g. `openssl rand -hex 24`) and give Prometheus the same bearer token, or set metrics.enabled to false (docs/metrics.md)",
    );
  }
  if (config.logLevel === "debug" || config.logLevel === "trace") {
    add("logLevel", `logLevel is ${config.logLevel}: message payloads are logged`, "use info in production");
  }
  return found;
}

/** The development defaults as the warnings logged at start. */
export function developmentDefaultWarnings(config: Config): string[] {
  return developmentDefaults(config).map((found) => `${found.problem}; ${found.fix}`);
}
