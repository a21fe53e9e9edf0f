/**
 * Hearth's Alexa Smart Home forwarder. Amazon sends Smart Home directives only to an AWS Lambda, so this
 * function passes each one to Hearth (POST <HEARTH_URL>/alexa/smarthome) with the user's own token and
 * returns Hearth's answer. When Hearth cannot answer, Alexa still gets a valid ErrorResponse: a Lambda
 * failure or a malformed answer is only ever heard as "device is not responding".
 *
 * Settings (environment variables, read on every invocation):
 *   HEARTH_URL               Hearth's public base URL, https:// (required)
 *   HEARTH_FORWARDER_SECRET  the daemon's HEARTH_ALEXA_FORWARDER_SECRET (optional, recommended)
 *   HEARTH_TIMEOUT_MS        how long to wait for Hearth (default 7000; Alexa gives up after 8 s)
 *
 * No dependencies: paste this file into the Lambda console as index.mjs, handler index.handler.
 */

const DEFAULT_TIMEOUT_MS = 7000;
// Alexa waits 8 s in all; the error answer must still reach it when Hearth is silent.
const MAX_TIMEOUT_MS = 7500;
// Kept back from the Lambda's own deadline so that the error answer leaves before the runtime kills us.
const LAMBDA_MARGIN_MS = 250;
// Header values fetch accepts; anything else would throw with the value in the message.
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export const handler = async (event, context) => {
  const started = Date.now();
  const { status, body, reason } = await forward(event, context);
  const header = event?.directive?.header;
  const error = body.event.header?.name === "ErrorResponse" ? ` error=${label(body.event.payload?.type)}` : "";
  const why = reason ? ` (${reason})` : "";
  console.log(
    `hearth-forwarder ${label(header?.namespace)} ${label(header?.name)} status=${status}${error} ms=${Date.now() - started}${why}`,
  );
  return body;
};

async function forward(event, context) {
  const directive = event?.directive;
  if (!isObject(directive?.header) || !isText(directive.header.namespace) || !isText(directive.header.name)) {
    return failed(directive, "INVALID_DIRECTIVE", "the event is not an Alexa Smart Home directive");
  }
  const settings = readSettings(context);
  if (settings.problem) return failed(directive, "INTERNAL_ERROR", settings.problem);

  const headers = { "content-type": "application/json", accept: "application/json" };
  const token = userToken(directive);
  if (token) headers.authorization = `Bearer ${token}`;
  if (settings.secret) headers["x-hearth-forwarder-secret"] = settings.secret;

  let response;
  let text;
  try {
    response = await fetch(settings.url, {
      method: "POST",
      headers,
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    return failed(directive, "BRIDGE_UNREACHABLE", unreachable(error, settings));
  }

  const answer = parseAnswer(text);
  if (answer) return { status: response.status, body: answer };
  // Only Hearth knows whether a token is bad; a bare 401/403 can still only mean it refused this caller.
  const refused = response.status === 401 || response.status === 403;
  const message = `Hearth answered HTTP ${response.status} without an Alexa event`;
  return failed(directive, refused ? "INVALID_AUTHORIZATION_CREDENTIAL" : "INTERNAL_ERROR", message, response.status);
}

function readSettings(context) {
  const example = "set HEARTH_URL to Hearth's public address, e.g. https://hearth.example.org";
  let url;
  try {
    url = new URL(process.env.HEARTH_URL?.trim() ?? "");
  } catch {
    return { problem: `HEARTH_URL is missing or not a URL: ${example}` };
  }
  const loopback = ["localhost", "[::1]"].includes(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    return { problem: `HEARTH_URL must start with https:// (tokens cross the internet): ${example}` };
  }
  const secret = process.env.HEARTH_FORWARDER_SECRET?.trim() || undefined;
  if (secret && !HEADER_SAFE.test(secret)) {
    return {
      problem: "HEARTH_FORWARDER_SECRET may contain only printable ASCII without spaces (openssl rand -hex 24)",
    };
  }
  const configured = Number(process.env.HEARTH_TIMEOUT_MS);
  let timeoutMs =
    Number.isInteger(configured) && configured > 0 ? Math.min(configured, MAX_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS;
  const remaining =
    typeof context?.getRemainingTimeInMillis === "function" ? context.getRemainingTimeInMillis() : Infinity;
  const cappedByLambda = remaining - LAMBDA_MARGIN_MS < timeoutMs;
  if (cappedByLambda) timeoutMs = Math.max(1, remaining - LAMBDA_MARGIN_MS);
  const base = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  return { url: `${base}/alexa/smarthome`, secret, timeoutMs, cappedByLambda };
}

/** The user's access token, from wherever this kind of directive carries it. */
function userToken(directive) {
  const candidates = [
    directive.endpoint?.scope?.token,
    directive.payload?.grantee?.token,
    directive.payload?.scope?.token,
  ];
  return candidates.find((token) => isText(token) && HEADER_SAFE.test(token));
}

function parseAnswer(text) {
  try {
    const answer = JSON.parse(text);
    return isObject(answer?.event) ? answer : undefined;
  } catch {
    return undefined;
  }
}

function unreachable(error, settings) {
  if (error?.name === "TimeoutError") {
    const hint = settings.cappedByLambda ? " (the Lambda's own timeout was nearly up: raise it to 10 s)" : "";
    return `Hearth did not answer within ${settings.timeoutMs} ms${hint}`;
  }
  // The network cause only: fetch's own messages can quote request headers.
  const code = error?.cause?.code ?? error?.cause?.message ?? error?.name ?? "unknown error";
  return `could not reach Hearth at HEARTH_URL: ${code}`;
}

/** An ErrorResponse Alexa accepts: AcceptGrant has its own namespace and error type. */
function failed(directive, type, message, status = "-") {
  const header = isObject(directive?.header) ? directive.header : {};
  const authorization = header.namespace === "Alexa.Authorization";
  const endpointId = directive?.endpoint?.endpointId;
  const event = {
    header: {
      namespace: authorization ? "Alexa.Authorization" : "Alexa",
      name: "ErrorResponse",
      payloadVersion: "3",
      messageId: crypto.randomUUID(),
      ...(isText(header.correlationToken) && { correlationToken: header.correlationToken }),
    },
    ...(!authorization && isText(endpointId) && { endpoint: { endpointId } }),
    payload: { type: authorization ? "ACCEPT_GRANT_FAILED" : type, message },
  };
  return { status, body: { event }, reason: message };
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isText(value) {
  return typeof value === "string" && value.length > 0;
}

/** Directive names for the log, kept short and on one line whatever the event holds. */
function label(value) {
  return isText(value) ? value.replace(/[^\w.-]/g, "?").slice(0, 64) : "-";
}
