import { join } from "node:path";
import { AdminTokenStore } from "./admin-tokens.ts";
import { CommandLog } from "./command-log.ts";
import { type Db, openDatabase } from "./database.ts";
import { DeviceStore } from "./devices.ts";
import { NodeStore } from "./nodes.ts";
import { OAuthClientStore } from "./oauth-clients.ts";
import { UserStore } from "./users.ts";
import { WriteBehind } from "./write-behind.ts";

export * from "./admin-tokens.ts";
export * from "./command-log.ts";
export * from "./database.ts";
export * from "./devices.ts";
export { MIGRATIONS, type Migration } from "./migrations/index.ts";
export * from "./nodes.ts";
export * from "./oauth-clients.ts";
export * from "./users.ts";

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
  readonly users: UserStore;
  readonly oauthClients: OAuthClientStore;

  /** Queued writes of device state and the command log; see write-behind.ts. */
  readonly writes: WriteBehind;

  constructor(
    readonly db: Db,
    onWriteError?: (error: unknown) => void,
  ) {
    this.writes = new WriteBehind(db, onWriteError);
    this.nodes = new NodeStore(db, this.writes);
    this.devices = new DeviceStore(db, this.writes, (nodeId) => this.nodes.isOnline(nodeId));
    this.nodes.onRemoved((nodeId) => this.devices.forgetNode(nodeId));
    this.commands = new CommandLog(db, this.writes);
    this.adminTokens = new AdminTokenStore(db);
    // Account linking will revoke tokens through users.onCredentialsChanged and oauthClients.onRemoved.
    this.users = new UserStore(db);
    this.oauthClients = new OAuthClientStore(db);
  }

  static open(dataDir: string, onWriteError?: (error: unknown) => void): Store {
    return new Store(openDatabase(databasePath(dataDir)), onWriteError);
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
    if (!this.db.open) return;
    this.writes.flush();
    this.db.close();
  }
}
