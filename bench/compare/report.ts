/**
 * What a comparison prints and writes: the results table, the ratios of Hearth to the peer and to the floor,
 * start-up and memory, the targets with whether each is met, a CPU profile's summary, and an SVG chart.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { round, table } from "../common.ts";
import { KIND_LABELS, KINDS, type Kind, type PhaseResult } from "./load.ts";
import type { Startup } from "./systems.ts";

export const SYSTEM_ORDER = ["hearth", "peer", "floor"] as const;
export type SystemName = (typeof SYSTEM_ORDER)[number];

const fixed = (value: number | null | undefined, digits = 2) =>
  value === null || value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);

export function resultsTable(results: readonly PhaseResult[]): string {
  const order = (r: PhaseResult) =>
    KINDS.indexOf(r.kind) * 1e6 + r.concurrency * 10 + SYSTEM_ORDER.indexOf(r.system as SystemName);
  const rows = [...results]
    .sort((a, b) => order(a) - order(b))
    .map((r) => [
      KIND_LABELS[r.kind],
      String(r.concurrency),
      r.system,
      String(r.requests),
      fixed(r.reqPerSec, 0),
      fixed(r.p50Ms),
      fixed(r.p99Ms),
      fixed(r.maxMs),
      String(r.errors),
      String(r.serverCpuPercent),
      fixed(r.serverCpuMsPerRequest, 3),
      fixed(r.rssPeakMiB, 0),
      fixed(r.loopLagP99Ms, 1),
    ]);
  return table(
    [
      "request",
      "c",
      "system",
      "requests",
      "req/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "errors",
      "CPU %",
      "CPU ms/req",
      "RSS MiB",
      "lag p99",
    ],
    rows,
  );
}

export interface Ratio {
  kind: Kind;
  concurrency: number;
  /** Hearth's req/s over the peer's: 5 means five times the peer's throughput. */
  throughputVsPeer: number | null;
  /** Hearth's p99 over the peer's: 0.33 means a third of the peer's tail latency. */
  p99VsPeer: number | null;
  /** Hearth's req/s over the floor's: 0.8 means 80% of what the least possible bridge does. */
  throughputVsFloor: number | null;
  p50VsFloor: number | null;
}

export function ratios(results: readonly PhaseResult[]): Ratio[] {
  const find = (system: string, kind: Kind, c: number) =>
    results.find((r) => r.system === system && r.kind === kind && r.concurrency === c);
  const over = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? null : round(a / b, 2);
  return results
    .filter((r) => r.system === "hearth")
    .map((h) => {
      const peer = find("peer", h.kind, h.concurrency);
      const floor = find("floor", h.kind, h.concurrency);
      return {
        kind: h.kind,
        concurrency: h.concurrency,
        throughputVsPeer: over(h.reqPerSec, peer?.reqPerSec),
        p99VsPeer: over(h.p99Ms, peer?.p99Ms),
        throughputVsFloor: over(h.reqPerSec, floor?.reqPerSec),
        p50VsFloor: over(h.p50Ms, floor?.p50Ms),
      };
    });
}

export function ratioTable(rows: readonly Ratio[]): string {
  const x = (v: number | null) => (v === null ? "-" : `${v.toFixed(2)}×`);
  return table(
    ["Hearth vs", "c", "req/s ÷ peer", "p99 ÷ peer", "req/s ÷ floor", "p50 ÷ floor"],
    rows.map((r) => [
      KIND_LABELS[r.kind],
      String(r.concurrency),
      x(r.throughputVsPeer),
      x(r.p99VsPeer),
      x(r.throughputVsFloor),
      x(r.p50VsFloor),
    ]),
  );
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
};

export function startupTable(
  startups: Partial<Record<SystemName, Startup>>,
  results: readonly PhaseResult[],
  devices: number,
): string {
  const rows = SYSTEM_ORDER.filter((s) => startups[s]).map((system) => {
    const s = startups[system] as Startup;
    const peak = Math.max(0, ...results.filter((r) => r.system === system).map((r) => r.rssPeakMiB));
    return [
      system,
      String(median(s.readyMs)),
      s.readyMs.join(", "),
      fixed(s.idleRssEmptyMiB, 1),
      fixed(s.idleRssMiB, 1),
      fixed(s.memory?.heapUsedMiB, 1),
      peak > 0 ? peak.toFixed(1) : "-",
      s.linkMs === undefined ? "-" : String(s.linkMs),
    ];
  });
  return table(
    [
      "system",
      "ready ms",
      "each start ms",
      "idle RSS MiB, empty",
      `idle RSS MiB, ${devices} dev`,
      "idle heap MiB",
      "peak RSS MiB",
      "link ms",
    ],
    rows,
  );
}

export interface Target {
  name: string;
  /** What was measured, in the target's unit. */
  value: number | null;
  limit: string;
  met: boolean | null;
  /** Where the value comes from. */
  from: string;
}

/** The targets the comparison is judged by, from this run's figures. */
export function targets(
  results: readonly PhaseResult[],
  startups: Partial<Record<SystemName, Startup>>,
  devices: number,
): Target[] {
  const find = (system: string, kind: Kind, c: number) =>
    results.find((r) => r.system === system && r.kind === kind && r.concurrency === c);
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : round(a / b, 2);
  const hearth = startups.hearth;
  const h8 = find("hearth", "onoff", 8);
  const h32 = find("hearth", "onoff", 32);
  const sync1 = find("hearth", "sync", 1);
  const throughputVsPeer = ratio(h8?.reqPerSec, find("peer", "onoff", 8)?.reqPerSec);
  const p99VsPeer = ratio(h32?.p99Ms, find("peer", "onoff", 32)?.p99Ms);
  const vsFloor = ratio(h8?.reqPerSec, find("floor", "onoff", 8)?.reqPerSec);
  const ready = hearth ? median(hearth.readyMs) : null;
  const idleMB = hearth ? round((hearth.idleRssMiB * 1024 * 1024) / 1e6, 1) : null;
  const check = (value: number | null, ok: (v: number) => boolean) => (value === null ? null : ok(value));
  return [
    {
      name: "EXECUTE throughput at c=8 vs the peer",
      value: throughputVsPeer,
      limit: "≥ 5×",
      met: check(throughputVsPeer, (v) => v >= 5),
      from: "EXEC OnOff 1, req/s of hearth ÷ peer",
    },
    {
      name: "EXECUTE p99 at c=32 vs the peer",
      value: p99VsPeer,
      limit: "≤ 0.33×",
      met: check(p99VsPeer, (v) => v <= 1 / 3),
      from: "EXEC OnOff 1, p99 of hearth ÷ peer",
    },
    {
      name: "EXECUTE throughput at c=8 vs the floor",
      value: vsFloor,
      limit: "≥ 0.8×",
      met: check(vsFloor, (v) => v >= 0.8),
      from: "EXEC OnOff 1, req/s of hearth ÷ floor",
    },
    {
      name: "start to ready",
      value: ready,
      limit: "≤ 300 ms",
      met: check(ready, (v) => v <= 300),
      from: `median of the starts with ${devices} devices in the database: spawn to /healthz 200`,
    },
    {
      name: `idle RSS with ${devices} devices`,
      value: idleMB,
      limit: "≤ 80 MB",
      met: check(idleMB, (v) => v <= 80),
      from: "VmRSS of the idle daemon, every device online, in MB (10^6 bytes)",
    },
    {
      name: `SYNC of ${devices} devices`,
      value: sync1?.p50Ms ?? null,
      limit: "≤ 50 ms",
      met: check(sync1?.p50Ms ?? null, (v) => v <= 50),
      from: `p50 at c=1 (p99 ${fixed(sync1?.p99Ms)} ms)`,
    },
  ];
}

export function targetTable(rows: readonly Target[]): string {
  return table(
    ["target", "measured", "limit", "met", "from"],
    rows.map((t) => [t.name, fixed(t.value), t.limit, t.met === null ? "n/a" : t.met ? "yes" : "NO", t.from]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profile

export interface ProfileEntry {
  function: string;
  where: string;
  selfMs: number;
  selfPercent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Self time by function, idle time left out. */
  top: ProfileEntry[];
  /** Self time by where the code lives: Hearth's own files, each package, Node's internals, GC. */
  byOrigin: Array<{ origin: string; selfMs: number; selfPercent: number }>;
  /** Hearth's own functions by total time, callees included: where on the request path the time is spent. */
  inclusive: ProfileEntry[];
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Top self-time functions of a V8 .cpuprofile, by summed samples. */
export function summariseProfile(file: string, buildDir: string, topN = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: CpuProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // The delta before a sample is the time it stands for (V8's convention in DevTools).
  for (const [i, id] of profile.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const place = (url: string) => {
    if (url === "") return "";
    const path = url.replace(/^file:\/\//, "");
    if (path.startsWith(buildDir)) return path.slice(buildDir.length + 1);
    const nm = path.lastIndexOf("/node_modules/");
    return nm >= 0 ? path.slice(nm + 14) : path;
  };
  const originOf = (node: CpuProfileNode) => {
    const { url, functionName } = node.callFrame;
    if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
    if (url.startsWith("node:")) return "node internals";
    const where = place(url);
    if (where.startsWith("dist/")) return `hearth ${where.split("/").slice(1, -1).join("/") || "."}`;
    const parts = where.split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? where);
  };
  const functions = new Map<string, ProfileEntry>();
  const origins = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === "(idle)") continue;
    totalUs += us;
    const where = node.callFrame.url ? `${place(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : "";
    const name = node.callFrame.functionName || "(anonymous)";
    const key = `${name} ${where}`;
    const entry = functions.get(key) ?? { function: name, where, selfMs: 0, selfPercent: 0 };
    entry.selfMs += us / 1000;
    functions.set(key, entry);
    const origin = originOf(node);
    origins.set(origin, (origins.get(origin) ?? 0) + us / 1000);
  }
  const totalMs = totalUs / 1000;
  const top = [...functions.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN)
    .map((e) => ({ ...e, selfMs: round(e.selfMs, 1), selfPercent: round((e.selfMs / totalMs) * 100, 1) }));
  const byOrigin = [...origins.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([origin, ms]) => ({ origin, selfMs: round(ms, 1), selfPercent: round((ms / totalMs) * 100, 1) }));
  // Total time per node (itself and everything it called), then per function of Hearth's, counting a
  // function only where it is not already on the stack above (recursion would count twice).
  const totals = new Map<number, number>();
  const totalOf = (root: number) => {
    const order: number[] = [];
    const stack = [root];
    while (stack.length > 0) {
      const id = stack.pop() as number;
      order.push(id);
      for (const child of byId.get(id)?.children ?? []) stack.push(child);
    }
    for (const id of order.reverse()) {
      const children = byId.get(id)?.children ?? [];
      totals.set(id, (selfUs.get(id) ?? 0) + children.reduce((sum, c) => sum + (totals.get(c) ?? 0), 0));
    }
  };
  const root = profile.nodes[0]?.id;
  const inclusiveUs = new Map<string, ProfileEntry>();
  if (root !== undefined) {
    totalOf(root);
    const active = new Map<string, number>();
    const walk: Array<{ id: number; leaving: boolean }> = [{ id: root, leaving: false }];
    while (walk.length > 0) {
      const { id, leaving } = walk.pop() as { id: number; leaving: boolean };
      const node = byId.get(id);
      if (!node) continue;
      const where = node.callFrame.url ? `${place(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : "";
      const key = `${node.callFrame.functionName || "(anonymous)"} ${where}`;
      const own = where.startsWith("dist/");
      if (leaving) {
        if (own) active.set(key, (active.get(key) ?? 1) - 1);
        continue;
      }
      if (own) {
        if (!active.get(key)) {
          const entry = inclusiveUs.get(key) ?? {
            function: node.callFrame.functionName || "(anonymous)",
            where,
            selfMs: 0,
            selfPercent: 0,
          };
          entry.selfMs += (totals.get(id) ?? 0) / 1000;
          inclusiveUs.set(key, entry);
        }
        active.set(key, (active.get(key) ?? 0) + 1);
      }
      walk.push({ id, leaving: true });
      for (const child of node.children ?? []) walk.push({ id: child, leaving: false });
    }
  }
  const inclusive = [...inclusiveUs.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN)
    .map((e) => ({ ...e, selfMs: round(e.selfMs, 1), selfPercent: round((e.selfMs / totalMs) * 100, 1) }));
  return { file, totalMs: round(totalMs, 1), top, byOrigin, inclusive };
}

export function profileTables(title: string, summary: ProfileSummary, rows = 15): string {
  return [
    `${title}: ${summary.totalMs.toFixed(0)} ms on CPU, idle left out (${relative(process.cwd(), summary.file)})`,
    "",
    table(
      ["self %", "self ms", "function", "where"],
      summary.top.slice(0, rows).map((e) => [e.selfPercent.toFixed(1), e.selfMs.toFixed(0), e.function, e.where]),
    ),
    "",
    table(
      ["self %", "self ms", "origin"],
      summary.byOrigin.slice(0, rows).map((o) => [o.selfPercent.toFixed(1), o.selfMs.toFixed(0), o.origin]),
    ),
    "",
    table(
      ["total %", "total ms", "Hearth's function, callees included", "where"],
      summary.inclusive.slice(0, rows).map((e) => [e.selfPercent.toFixed(1), e.selfMs.toFixed(0), e.function, e.where]),
    ),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Chart

const COLOURS: Record<SystemName, string> = { hearth: "#d9480f", peer: "#1c7ed6", floor: "#868e96" };

const xml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/**
 * Requests per second of each system, one panel per concurrency level and a group of bars per request kind, on
 * a logarithmic axis because SYNC and a single QUERY are two orders of magnitude apart. Plain SVG.
 */
export function chart(results: readonly PhaseResult[], title: string): string {
  const levels = [...new Set(results.map((r) => r.concurrency))].sort((a, b) => a - b);
  const kinds = KINDS.filter((k) => results.some((r) => r.kind === k));
  const systems = SYSTEM_ORDER.filter((s) => results.some((r) => r.system === s));
  const bar = 12;
  const groupWidth = systems.length * bar + 14;
  const panelWidth = kinds.length * groupWidth + 20;
  const [left, top, plotHeight] = [60, 50, 260];
  const width = left + levels.length * panelWidth + 20;
  const height = top + plotHeight + 90;
  const max = Math.max(...results.map((r) => r.reqPerSec), 10);
  const min = 1;
  const y = (value: number) =>
    top + plotHeight - (Math.log10(Math.max(value, min)) / Math.log10(max * 1.2)) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">${xml(title)}</text>`,
    `<text x="${left}" y="36" fill="#555">requests per second (log scale), higher is better</text>`,
  ];
  for (let decade = 1; decade <= max * 1.2; decade *= 10) {
    const yy = y(decade).toFixed(1);
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dy="4">${decade}</text>`);
  }
  levels.forEach((c, panel) => {
    const x0 = left + panel * panelWidth + 10;
    parts.push(
      `<text x="${x0 + (panelWidth - 20) / 2}" y="${top + plotHeight + 58}" text-anchor="middle" font-size="12">c = ${c}</text>`,
    );
    kinds.forEach((kind, group) => {
      const gx = x0 + group * groupWidth;
      systems.forEach((system, i) => {
        const r = results.find((x) => x.system === system && x.kind === kind && x.concurrency === c);
        if (!r) return;
        const yy = y(r.reqPerSec);
        parts.push(
          `<rect x="${gx + i * bar}" y="${yy.toFixed(1)}" width="${bar - 2}" height="${(top + plotHeight - yy).toFixed(1)}" fill="${COLOURS[system]}"><title>${system} ${xml(KIND_LABELS[kind])} c=${c}: ${r.reqPerSec} req/s, p99 ${r.p99Ms} ms</title></rect>`,
        );
      });
      const label = KIND_LABELS[kind].replace("EXEC ", "");
      parts.push(
        `<text transform="translate(${gx + (systems.length * bar) / 2},${top + plotHeight + 8}) rotate(35)" font-size="10">${xml(label)}</text>`,
      );
    });
  });
  systems.forEach((system, i) => {
    const x = left + i * 90;
    parts.push(`<rect x="${x}" y="${height - 18}" width="10" height="10" fill="${COLOURS[system]}"/>`);
    parts.push(`<text x="${x + 14}" y="${height - 9}">${system}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
