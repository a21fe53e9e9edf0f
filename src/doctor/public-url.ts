/**
 * The public URL Amazon and Google reach Hearth at.
 *
 * - `public-url`: it is set once an assistant is registered, and it is HTTPS (both platforms refuse
 *   anything else for account linking and fulfillment).
 * - `public-url.tls` and `public-url.healthz` (online, from check `public-url.reach`): the certificate is
 *   one this machine trusts for that name — Amazon and Google trust public CAs only, so a self-signed one
 *   fails there too — it is not about to expire, and `/healthz` answers through the proxy.
 */
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { type PeerCertificate, connect as tlsConnect } from "node:tls";
import { type Check, type Finding, finding } from "./check.ts";
import type { DoctorContext } from "./context.ts";

const TIMEOUT_MS = 5_000;
/** Renewal (certbot's timer) normally happens 30 days before expiry; 14 days left means it failed. */
export const CERT_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

const PROXY_GUIDE = "docs/account-linking.md#prerequisites";
const PUBLIC_CA =
  "use a certificate from a public CA for this name (e.g. Let's Encrypt: certbot --nginx -d <host>), then reload the proxy; Amazon and Google refuse self-signed and private-CA certificates";

/** What each TLS verification error means, and what to do about it. */
const TLS_PROBLEMS: Record<string, { what: string; fix: string }> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: { what: "self-signed", fix: PUBLIC_CA },
  SELF_SIGNED_CERT_IN_CHAIN: { what: "issued by a self-signed CA this machine does not trust", fix: PUBLIC_CA },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { what: "issued by a CA this machine does not trust", fix: PUBLIC_CA },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
    what: "sent without its intermediate certificates",
    fix: "configure the proxy with the full chain (certbot's fullchain.pem, not cert.pem), then reload it",
  },
  CERT_HAS_EXPIRED: {
    what: "expired",
    fix: "renew it (certbot renew) and reload the proxy; check that the renewal timer runs (systemctl list-timers)",
  },
  CERT_NOT_YET_VALID: { what: "not valid yet", fix: "check this machine's clock and the proxy's (timedatectl)" },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    what: "issued for another name",
    fix: "get a certificate that names the public URL's host, or correct publicUrl (HEARTH_PUBLIC_URL)",
  },
};

function assistantsRegistered(ctx: DoctorContext): boolean {
  return (
    ctx
      .store()
      ?.oauthClients.list()
      .some((client) => client.platform !== "custom") ?? false
  );
}

export const publicUrlCheck: Check = {
  id: "public-url",
  run(ctx) {
    const { publicUrl } = ctx.config;
    const assistants = assistantsRegistered(ctx);
    if (!publicUrl) {
      return [
        assistants
          ? finding(
              "public-url",
              "warn",
              "publicUrl is not set, but assistants are registered: Alexa and Google cannot reach Hearth",
              `put a TLS reverse proxy in front and set HEARTH_PUBLIC_URL to its https:// address (${PROXY_GUIDE})`,
            )
          : finding("public-url", "ok", "publicUrl is not set (needed once Alexa or Google is linked)"),
      ];
    }
    if (new URL(publicUrl).protocol === "http:") {
      return [
        finding(
          "public-url",
          assistants ? "error" : "warn",
          `publicUrl ${publicUrl} is plain HTTP${assistants ? " while assistants are registered" : ""}: Amazon and Google require HTTPS, and tokens would cross the network in clear`,
          `put a TLS reverse proxy in front and set HEARTH_PUBLIC_URL to its https:// address (${PROXY_GUIDE})`,
        ),
      ];
    }
    return [finding("public-url", "ok", `publicUrl is ${publicUrl}`)];
  },
};

type TlsOutcome =
  | { connected: true; authorized: boolean; error: string | undefined; cert: PeerCertificate }
  | { connected: false; error: string };

function inspectTls(host: string, port: number, signal: AbortSignal): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    // Not refused on a bad certificate: the certificate is what is being looked at. Nothing is sent.
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, timeout: TIMEOUT_MS });
    const done = (outcome: TlsOutcome) => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = () => done({ connected: false, error: "aborted" });
    signal.addEventListener("abort", onAbort);
    socket.once("secureConnect", () => {
      // Node sets it to OpenSSL's code (DEPTH_ZERO_SELF_SIGNED_CERT) or to a message, whatever its type says.
      const error = socket.authorizationError as unknown;
      done({
        connected: true,
        authorized: socket.authorized,
        error: typeof error === "string" ? error : ((error as Error | null)?.message ?? undefined),
        cert: socket.getPeerCertificate(),
      });
    });
    socket.once("timeout", () => done({ connected: false, error: `no TLS answer within ${TIMEOUT_MS / 1000} s` }));
    socket.once("error", (error: NodeJS.ErrnoException) =>
      done({ connected: false, error: error.code ?? error.message }),
    );
  });
}

function fetchText(url: URL, signal: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const get = url.protocol === "https:" ? httpsGet : httpGet;
    const request = get(url, { timeout: TIMEOUT_MS, signal }, (response: IncomingMessage) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on("error", reject);
  });
}

function certificateFindings(url: URL, tls: Extract<TlsOutcome, { connected: true }>, now: number): Finding[] {
  const host = url.hostname;
  const until = new Date(tls.cert.valid_to);
  const issuer = tls.cert.issuer?.O ?? tls.cert.issuer?.CN ?? "unknown issuer";
  if (!tls.authorized) {
    const code = Object.keys(TLS_PROBLEMS).find((key) => tls.error?.includes(key)) ?? codeOf(tls.error ?? "");
    const problem = code ? TLS_PROBLEMS[code] : undefined;
    return [
      finding(
        "public-url.tls",
        "error",
        `the certificate of ${host} is ${problem?.what ?? "not trusted"} (${tls.error}; valid until ${until.toISOString().slice(0, 10)}, issuer ${issuer})`,
        problem?.fix ?? PUBLIC_CA,
      ),
    ];
  }
  const daysLeft = Math.floor((until.getTime() - now) / DAY_MS);
  if (daysLeft < CERT_WARNING_DAYS) {
    return [
      finding(
        "public-url.tls",
        "warn",
        `the certificate of ${host} expires in ${daysLeft} day(s), on ${until.toISOString().slice(0, 10)}`,
        "renew it now (certbot renew) and reload the proxy; automatic renewal should have done it 30 days before: check its timer (systemctl list-timers)",
      ),
    ];
  }
  return [
    finding(
      "public-url.tls",
      "ok",
      `the certificate of ${host} is trusted, from ${issuer}, valid for ${daysLeft} more days`,
    ),
  ];
}

/** Node's verification messages as OpenSSL's codes, for the ones it reports by text only. */
function codeOf(message: string): string | undefined {
  if (/self[- ]signed certificate in certificate chain/i.test(message)) return "SELF_SIGNED_CERT_IN_CHAIN";
  if (/self[- ]signed/i.test(message)) return "DEPTH_ZERO_SELF_SIGNED_CERT";
  if (/expired/i.test(message)) return "CERT_HAS_EXPIRED";
  if (/not yet valid/i.test(message)) return "CERT_NOT_YET_VALID";
  if (/unable to verify the first certificate/i.test(message)) return "UNABLE_TO_VERIFY_LEAF_SIGNATURE";
  if (/unable to get local issuer/i.test(message)) return "UNABLE_TO_GET_ISSUER_CERT_LOCALLY";
  if (/altnames|does not match|Hostname\/IP/i.test(message)) return "ERR_TLS_CERT_ALTNAME_INVALID";
  return undefined;
}

async function healthzFinding(url: URL, signal: AbortSignal): Promise<Finding> {
  const healthz = new URL("healthz", url.href.endsWith("/") ? url.href : `${url.href}/`);
  let answer: { status: number; body: string };
  try {
    answer = await fetchText(healthz, signal);
  } catch (error) {
    return finding(
      "public-url.healthz",
      "error",
      `${healthz.href} cannot be fetched: ${(error as Error).message}`,
      `check the reverse proxy and that it forwards to Hearth's http.host:http.port (${PROXY_GUIDE})`,
    );
  }
  let health: { status?: unknown; version?: unknown } | undefined;
  try {
    health = JSON.parse(answer.body) as { status?: unknown; version?: unknown };
  } catch {
    health = undefined;
  }
  if (typeof health?.version !== "string") {
    const proxyDown = [502, 503, 504].includes(answer.status);
    return finding(
      "public-url.healthz",
      "error",
      `${healthz.href} answered HTTP ${answer.status}, not Hearth's health answer`,
      proxyDown
        ? "the proxy runs but Hearth does not answer behind it: start Hearth, and check the address the proxy forwards to (Hearth listens on http.host:http.port, 127.0.0.1:8080 by default)"
        : "the proxy must forward every path of the public URL to Hearth, unchanged",
    );
  }
  if (answer.status !== 200) {
    return finding(
      "public-url.healthz",
      "warn",
      `${healthz.href} reaches Hearth ${health.version}, which reports itself ${String(health.status)}`,
      "see the broker and hearth findings above",
    );
  }
  return finding("public-url.healthz", "ok", `${healthz.href} reaches Hearth ${health.version}`);
}

export const publicUrlReachCheck: Check = {
  id: "public-url.reach",
  network: true,
  async run(ctx, signal) {
    const { publicUrl } = ctx.config;
    if (!publicUrl) return [];
    const url = new URL(publicUrl);
    const findings: Finding[] = [];
    if (url.protocol === "https:") {
      const port = url.port ? Number(url.port) : 443;
      const tls = await inspectTls(url.hostname.replace(/^\[|\]$/g, ""), port, signal);
      if (!tls.connected) {
        return [
          finding(
            "public-url.tls",
            "error",
            `${url.host} cannot be reached over TLS: ${tls.error}`,
            "check DNS, the port forwarding of 443 to the proxy, the firewall and that the proxy runs; Amazon and Google must reach this address from the internet",
          ),
        ];
      }
      findings.push(...certificateFindings(url, tls, ctx.now()));
      if (!tls.authorized) return findings;
    }
    findings.push(await healthzFinding(url, signal));
    return findings;
  },
};
