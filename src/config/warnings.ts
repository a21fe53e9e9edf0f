import type { Config } from "./schema.ts";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/**
 * Development-only defaults still in effect. Each is logged as a warning at every start, so that an
 * installation exposed to a network never runs on them silently.
 */
export function developmentDefaultWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (!config.publicUrl) {
    warnings.push(
      "publicUrl is not set: Alexa and Google cannot reach this bridge; set HEARTH_PUBLIC_URL to its HTTPS address once a TLS reverse proxy is in front",
    );
  } else if (new URL(config.publicUrl).protocol === "http:") {
    warnings.push(
      `publicUrl ${config.publicUrl} is plain HTTP: tokens and passwords would cross the network in clear; Amazon and Google require HTTPS`,
    );
  }
  if (!LOOPBACK.test(config.http.host) && !config.http.trustProxy) {
    warnings.push(
      `the HTTP server listens on ${config.http.host} without TLS and without a trusted reverse proxy; put a TLS proxy in front and set http.trustProxy`,
    );
  }
  if (!config.mqtt.url && !LOOPBACK.test(config.mqtt.host)) {
    warnings.push(
      `the embedded MQTT broker listens on ${config.mqtt.host} without TLS: node passwords cross the network in clear; use an external mosquitto with TLS (docs/mosquitto.md) for nodes on an untrusted network`,
    );
  }
  const broker = config.mqtt.url ? new URL(config.mqtt.url) : undefined;
  if (broker && (broker.protocol === "mqtt:" || broker.protocol === "tcp:")) {
    const host = broker.hostname;
    if (!LOOPBACK.test(host))
      warnings.push(
        `the external broker ${host} is reached without TLS (mqtt://): use mqtts:// for a broker on another machine`,
      );
  }
  if (config.publicUrl && !config.alexa.forwarderSecret) {
    warnings.push(
      "alexa.forwarderSecret is not set: POST /alexa/smarthome takes directives from anyone holding a token, not only from your Lambda; set HEARTH_ALEXA_FORWARDER_SECRET here and HEARTH_FORWARDER_SECRET on the Lambda",
    );
  }
  if (config.logLevel === "debug" || config.logLevel === "trace") {
    warnings.push(`logLevel is ${config.logLevel}: message payloads are logged; use info in production`);
  }
  return warnings;
}
