import { join } from "node:path";
import { AdminTokenStore } from "./admin-tokens.ts";
import { CommandLog } from "./command-log.ts";
import { type Db, openDatabase } from "./database.ts";
import { DeviceStore } from "./devices.ts";
import { NodeStore } from "./nodes.ts";

export * from "./admin-tokens.ts";
export * from "./command-log.ts";
export * from "./database.ts";
export * from "./devices.ts";
export { MIGRATIONS, type Migration } from "./migrations/index.ts";
export * from "./nodes.ts";

export const DATABASE_FILE = "hearth.db";

export function databasePath(dataDir: string): string {
  return join(dataDir, DATABASE_FILE);
}

/** The store: one SQLite database and one module per table group. */
export class Store {
  readonly nodes: NodeStore;
  readonly devices: DeviceStore;
  readonly commands: CommandLog;
  readonly adminTokens: AdminTokenStore;

  constructor(readonly db: Db) {
    this.nodes = new NodeStore(db);
    this.devices = new DeviceStore(db);
    this.commands = new CommandLog(db);
    this.adminTokens = new AdminTokenStore(db);
  }

  static open(dataDir: string): Store {
    return new Store(openDatabase(databasePath(dataDir)));
  }

  /** Runs `fn` in one write transaction: several small writes, one commit. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Quick liveness check for /healthz. */
  healthy(): boolean {
    try {
      return this.db.prepare("SELECT 1 AS ok").get() !== undefined;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
