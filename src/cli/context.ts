/**
 * What every CLI command shares: the common options, loading the config the same way the daemon does,
 * opening the store, printing tables or JSON, and talking to a running daemon's admin API.
 *
 * Every command's definition imports this module, so it imports nothing heavy itself: the
 * config (zod) and the store (better-sqlite3) are loaded when a command runs and needs them, so that
 * `hearth --version`, `--help` and the commands that need neither start in a fraction of the time.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import type { Config, LoadedConfig } from "../config/index.ts";
import type { Store } from "../store/index.ts";

export interface CommonOptions {
  dataDir?: string;
  config?: string;
}

/** A failure the user can fix; printed without a stack trace. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function withCommonOptions(command: Command): Command {
  return command
    .option("--data-dir <dir>", "folder for the database and state (HEARTH_DATA_DIR; default ./data)")
    .option("-c, --config <file>", "YAML or JSON config file (HEARTH_CONFIG)");
}

export async function cliConfig(options: CommonOptions): Promise<LoadedConfig> {
  const { loadConfig } = await import("../config/index.ts");
  return loadConfig({
    ...(options.config ? { file: options.config } : {}),
    overrides: options.dataDir ? { dataDir: options.dataDir } : {},
  });
}

export async function openStore(config: Config): Promise<Store> {
  const { Store } = await import("../store/index.ts");
  return Store.open(resolve(config.dataDir));
}

/** Loads the config, opens the store for the duration of `fn`, and always closes it again. */
export async function withStore<T>(
  options: CommonOptions,
  fn: (store: Store, config: Config) => T | Promise<T>,
): Promise<T> {
  const { config } = await cliConfig(options);
  const store = await openStore(config);
  try {
    return await fn(store, config);
  } finally {
    store.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface ListSpec<T> {
  /** The rows, as the same objects `--json` prints. */
  rows: (store: Store) => T[] | Promise<T[]>;
  /** What to say when there is nothing to list (and how to add something). */
  empty: string;
  columns: ReadonlyArray<readonly [header: string, cell: (row: T) => unknown]>;
}

/** The behaviour every list command shares: `--json`, a hint when empty, otherwise a table. */
export function listCommand<T>(command: Command, spec: ListSpec<T>): Command {
  return withCommonOptions(command)
    .option("--json", "print JSON")
    .action((options: CommonOptions & { json?: boolean }) =>
      withStore(options, async (store) => {
        const rows = await spec.rows(store);
        if (options.json) return printJson(rows);
        if (rows.length === 0) return void process.stdout.write(`${spec.empty}\n`);
        printTable(
          spec.columns.map(([header]) => header),
          rows.map((row) => spec.columns.map(([, cell]) => cell(row))),
        );
      }),
    );
}

/** Prints rows as an aligned text table; cells are converted with String(). */
export function printTable(headers: string[], rows: unknown[][]): void {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] as string).length)));
  for (const row of cells)
    process.stdout.write(
      `${row
        .map((cell, i) => (cell as string).padEnd(widths[i] as number))
        .join("  ")
        .trimEnd()}\n`,
    );
}

export function daemonUrl(config: Config): string {
  if (process.env.HEARTH_URL) return process.env.HEARTH_URL.replace(/\/$/, "");
  const host = ["0.0.0.0", "::"].includes(config.http.host) ? "127.0.0.1" : config.http.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.http.port}`;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/**
 * Calls the running daemon's admin API. Whoever can open the data dir is an administrator already, so
 * the CLI mints a token that expires in a minute (or uses HEARTH_ADMIN_TOKEN) instead of asking for one.
 */
export async function callDaemon(
  config: Config,
  store: Store,
  method: string,
  path: string,
  /** JSON, or raw bytes sent as application/octet-stream. */
  body?: unknown,
  /** A token the caller minted for a series of calls (HEARTH_ADMIN_TOKEN still comes first). */
  options: { token?: string } = {},
): Promise<ApiResponse> {
  const base = daemonUrl(config);
  let token = process.env.HEARTH_ADMIN_TOKEN ?? options.token;
  let minted: string | undefined;
  if (!token) {
    const created = store.adminTokens.create("cli", Date.now(), 60_000);
    token = created.token;
    minted = created.id;
  }
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined
          ? {}
          : { "content-type": Buffer.isBuffer(body) ? "application/octet-stream" : "application/json" }),
      },
      ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (cause === "ECONNREFUSED" || cause === "ENOTFOUND") {
      throw new CliError(`Hearth is not running at ${base} (start it with \`hearth start\`, or set HEARTH_URL)`);
    }
    throw new CliError(`cannot reach Hearth at ${base}: ${(error as Error).message}`);
  } finally {
    if (minted) store.adminTokens.revoke(minted);
  }
}

export function apiErrorMessage(response: ApiResponse): string {
  const error = (response.body as { error?: { code?: string; message?: string } } | null)?.error;
  return error ? `${error.message} (${error.code})` : `HTTP ${response.status}`;
}
