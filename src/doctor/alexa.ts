/**
 * Alexa, when an Alexa client is registered.
 *
 * - `alexa`: the Skill Messaging credentials are set and look like Amazon's (without them there are no
 *   ChangeReports), the Lambda forwarder's shared secret is set, and a linked user's directives reach
 *   Hearth at all (the Lambda forwards).
 * - `alexa.lwa` (online): Login with Amazon accepts the client id and secret. The probe exchanges a grant
 *   code that does not exist: LWA authenticates the client first, so `invalid_grant` means the
 *   credentials are good and `invalid_client` that they are not — and nothing is created, refreshed or
 *   rotated, unlike a refresh of a user's stored grant would.
 */
import { LoginWithAmazon, LwaError } from "../alexa/lwa.ts";
import { type Check, type Finding, finding, Skip } from "./check.ts";
import type { DoctorContext } from "./context.ts";

const LWA_CLIENT_ID_PREFIX = "amzn1.application-oa2-client.";
const LWA_TIMEOUT_MS = 5_000;
const CREDENTIALS_HOME =
  "the Alexa developer console, the skill → Build → Permissions → Send Alexa Events (not the account-linking client)";
const RELINK = "then disable and re-enable the skill in the Alexa app so that Amazon sends a new grant";

function hasAlexaClient(ctx: DoctorContext): boolean | Skip {
  const store = ctx.store();
  if (!store) return new Skip(ctx.storeUnavailable());
  return store.oauthClients.list().some((client) => client.platform === "alexa");
}

export const alexaCheck: Check = {
  id: "alexa",
  run(ctx) {
    const present = hasAlexaClient(ctx);
    if (present instanceof Skip) return present;
    if (!present) return new Skip("no Alexa client is registered");
    const { alexa } = ctx.config;
    const findings: Finding[] = [];
    if (!alexa.clientId || !alexa.clientSecret) {
      findings.push(
        finding(
          "alexa",
          "warn",
          "alexa.clientId and alexa.clientSecret are not set: Alexa can control devices, but gets no ChangeReports (no routines on sensors, stale state in the app)",
          `set HEARTH_ALEXA_CLIENT_ID and HEARTH_ALEXA_CLIENT_SECRET from ${CREDENTIALS_HOME}, restart Hearth, ${RELINK}`,
        ),
      );
    } else if (!alexa.clientId.startsWith(LWA_CLIENT_ID_PREFIX)) {
      findings.push(
        finding(
          "alexa",
          "error",
          `alexa.clientId does not start with ${LWA_CLIENT_ID_PREFIX}: it is not a Login with Amazon client id`,
          `copy the Alexa Skill Messaging client id from ${CREDENTIALS_HOME}`,
        ),
      );
    }
    if (!alexa.forwarderSecret) {
      findings.push(
        finding(
          "alexa",
          "warn",
          "alexa.forwarderSecret is not set: /alexa/smarthome takes directives from anyone holding a token, not only from your Lambda",
          "set HEARTH_ALEXA_FORWARDER_SECRET to `openssl rand -hex 24` here and the same value as HEARTH_FORWARDER_SECRET on the Lambda",
        ),
      );
    }
    const store = ctx.store();
    const links = store?.grants.links().filter((link) => link.platform === "alexa" && link.active) ?? [];
    if (links.length > 0 && links.every((link) => link.lastRequestAt === null)) {
      findings.push(
        finding(
          "alexa",
          "warn",
          `${links.length} user(s) linked Alexa, but no directive has reached Hearth since: the Lambda does not forward`,
          "check the Lambda's HEARTH_URL (<publicUrl>/alexa/smarthome) and its log in CloudWatch; the skill's endpoint must be the Lambda's ARN (docs/alexa.md)",
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(finding("alexa", "ok", "Alexa: Skill Messaging credentials and the forwarder's secret are set"));
    }
    return findings;
  },
};

export const alexaLwaCheck: Check = {
  id: "alexa.lwa",
  network: true,
  async run(ctx) {
    const present = hasAlexaClient(ctx);
    if (present instanceof Skip) return present;
    if (!present) return new Skip("no Alexa client is registered");
    const { alexa } = ctx.config;
    if (!alexa.clientId || !alexa.clientSecret) return new Skip("alexa.clientId and alexa.clientSecret are not set");
    const lwa = new LoginWithAmazon({
      tokenUrl: alexa.lwaTokenUrl,
      clientId: alexa.clientId,
      clientSecret: alexa.clientSecret,
      timeoutMs: LWA_TIMEOUT_MS,
    });
    try {
      await lwa.exchangeCode(`hearth-doctor-probe-${Date.now()}`);
    } catch (error) {
      if (!(error instanceof LwaError)) throw error;
      if (error.code === "invalid_grant") {
        return [
          finding(
            "alexa.lwa",
            "ok",
            `Login with Amazon (${alexa.lwaTokenUrl}) accepts the Skill Messaging client id and secret`,
          ),
        ];
      }
      if (error.code === "invalid_client" || error.code === "unauthorized_client") {
        return [
          finding(
            "alexa.lwa",
            "error",
            `the Skill Messaging credentials were refused: ${error.message}`,
            `copy alexa.clientId and alexa.clientSecret again from ${CREDENTIALS_HOME}, restart Hearth, ${RELINK}`,
          ),
        ];
      }
      if (error.code === "network_error") {
        return [
          finding(
            "alexa.lwa",
            "error",
            error.message,
            "this machine must reach api.amazon.com over HTTPS (DNS, firewall, proxy); run with --offline to skip this check",
          ),
        ];
      }
      return [
        finding(
          "alexa.lwa",
          "warn",
          `Login with Amazon answered the probe unexpectedly: ${error.message}`,
          "check alexa.lwaTokenUrl (leave it at its default) and try again later",
        ),
      ];
    }
    // A code nobody issued was accepted: not Amazon, or not Amazon's usual self.
    return [
      finding(
        "alexa.lwa",
        "warn",
        `${alexa.lwaTokenUrl} accepted a made-up grant code: it does not behave like Login with Amazon`,
        "leave alexa.lwaTokenUrl at its default",
      ),
    ];
  },
};
