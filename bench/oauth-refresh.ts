/**
 * Token refresh under a login flood: how fast `/oauth/token` answers Alexa's refresh (which gives up after
 * 4.5 s and then unlinks) while an attacker hammers the login form with wrong passwords, next to the same
 * refreshes on a quiet daemon, measured in the same run.
 *
 * Everything runs in this one process on loopback: the daemon, the refreshing client and the flooders.
 * Usage: `npm run bench:oauth [-- --refreshes N --flooders N --concurrency N]`.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { addClient, addUser } from "../src/oauth/accounts.ts";
import { TestBridge } from "../test/helpers/bridge.ts";

const { values } = parseArgs({
  options: {
    refreshes: { type: "string", default: process.env.BENCH_REFRESHES ?? "1000" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "4" },
    flooders: { type: "string", default: process.env.BENCH_FLOODERS ?? "16" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "Usage: npm run bench:oauth -- [--refreshes N (max 20000)] [--concurrency N (max 64)] [--flooders N (max 128)]\n",
  );
  process.exit(0);
}
const bounded = (raw: string, max: number, name: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    process.stderr.write(`--${name} must be a whole number from 1 to ${max}\n`);
    process.exit(2);
  }
  return n;
};
const REFRESHES = bounded(values.refreshes, 20_000, "refreshes");
const CONCURRENCY = bounded(values.concurrency, 64, "concurrency");
const FLOODERS = bounded(values.flooders, 128, "flooders");
const PASSWORD = "correct horse battery staple";

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY + FLOODERS });

function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const bridge = await TestBridge.start("embedded", { settings: { logLevel: "silent" } });
try {
  const store = bridge.daemon.store;
  await addUser(store, "alice", PASSWORD);
  const { client, secret } = addClient(store, { platform: "alexa", vendorId: "BENCHVENDOR1" });
  const redirectUri = client.redirectUris[0] as string;
  const basic = `Basic ${Buffer.from(`${client.id}:${secret}`).toString("base64")}`;
  const form = { "content-type": "application/x-www-form-urlencoded" };

  // One real link through the pages, for a refresh token.
  const authorize = `${bridge.httpUrl}/oauth/authorize?${new URLSearchParams({ client_id: client.id, redirect_uri: redirectUri, response_type: "code", state: "b" })}`;
  const startPage = async () => {
    const page = await request(authorize, "GET", {});
    const cookie = String(page.headers["set-cookie"]?.[0] ?? "").split(";")[0] as string;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] as string;
    return { cookie, csrf };
  };
  const post = (cookie: string, fields: Record<string, string>) =>
    request(`${bridge.httpUrl}/oauth/authorize`, "POST", { ...form, cookie }, new URLSearchParams(fields).toString());
  const page = await startPage();
  const consent = await post(page.cookie, { csrf: page.csrf, step: "login", username: "alice", password: PASSWORD });
  const consentCsrf = /name="csrf" value="([^"]+)"/.exec(consent.body)?.[1] as string;
  const done = await post(page.cookie, { csrf: consentCsrf, step: "consent", decision: "allow" });
  const code = new URL(String(done.headers.location)).searchParams.get("code") as string;
  const issued = await request(
    `${bridge.httpUrl}/oauth/token`,
    "POST",
    { ...form, authorization: basic },
    new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri }).toString(),
  );
  const refreshToken = (JSON.parse(issued.body) as { refresh_token: string }).refresh_token;
  const refreshBody = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString();

  const refreshPhase = async () => {
    const latencies: number[] = [];
    let errors = 0;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REFRESHES) {
          next++;
          const started = performance.now();
          const response = await request(
            `${bridge.httpUrl}/oauth/token`,
            "POST",
            { ...form, authorization: basic },
            refreshBody,
          );
          latencies.push(performance.now() - started);
          if (response.status !== 200) errors++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      perSecond: REFRESHES / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
      errors,
    };
  };

  // Warm-up, then the quiet baseline.
  await refreshPhase();
  const quiet = await refreshPhase();

  // The flood: each flooder holds a sign-in page and posts wrong passwords for user names it makes up.
  let flooding = true;
  const floodStatuses = new Map<number, number>();
  const flooders = Array.from({ length: FLOODERS }, async (_, i) => {
    const own = await startPage();
    let n = 0;
    while (flooding) {
      const response = await post(own.cookie, {
        csrf: own.csrf,
        step: "login",
        username: `guess${i}-${n++}`,
        password: "wrong password",
      });
      floodStatuses.set(response.status, (floodStatuses.get(response.status) ?? 0) + 1);
    }
  });
  const rssBefore = process.memoryUsage().rss;
  const underFlood = await refreshPhase();
  const rssPeak = process.memoryUsage().rss;
  flooding = false;
  await Promise.all(flooders);

  const row = (name: string, r: typeof quiet) =>
    `${name.padEnd(18)} ${String(Math.round(r.perSecond)).padStart(8)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.max.toFixed(2).padStart(8)} ${String(r.errors).padStart(6)}`;
  const lines = [
    `Token refresh under a login flood — ${REFRESHES} refreshes at c=${CONCURRENCY}, ${FLOODERS} flooders, Node ${process.version}`,
    "",
    `${"phase".padEnd(18)} ${"req/s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"max ms".padStart(8)} ${"errors".padStart(6)}`,
    row("quiet", quiet),
    row("under flood", underFlood),
    "",
    `flood: ${[...floodStatuses].map(([status, count]) => `${count} × ${status}`).join(", ")}; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssPeak / 2 ** 20).toFixed(0)} MiB`,
    `p99 under flood / quiet: ${(underFlood.p99 / quiet.p99).toFixed(2)}×; Alexa's limit is 4500 ms`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (quiet.errors + underFlood.errors > 0) process.exitCode = 1;
} finally {
  agent.destroy();
  await bridge.stop();
}
