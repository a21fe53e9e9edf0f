import { join } from "node:path";
import { AdminTokenStore } from "./admin-tokens.ts";
import { AlexaGrantStore } from "./alexa-grants.ts";
import { AuditLog } from "./audit-log.ts";
import { ClaimTokenStore } from "./claim-tokens.ts";
import { CommandLog } from "./command-log.ts";
import { type Db, openDatabase } from "./database.ts";
import { DeviceStore } from "./devices.ts";
import { GoogleLinkStore } from "./google-links.ts";
import { GrantStore } from "./grants.ts";
import { HookStore } from "./hooks.ts";
import { NodeStore } from "./nodes.ts";
import { OAuthClientStore } from "./oauth-clients.ts";
import { OutboxStore } from "./outbox.ts";
import { PinStore } from "./pins.ts";
import { SceneStore } from "./scenes.ts";
import { SubscriptionStore } from "./subscriptions.ts";
import { UserStore } from "./users.ts";
import { WriteBehind } from "./write-behind.ts";

export * from "./admin-tokens.ts";
export * from "./alexa-grants.ts";
export * from "./audit-log.ts";
export * from "./backup.ts";
export * from "./claim-tokens.ts";
export * from "./command-log.ts";
export * from "./database.ts";
export * from "./devices.ts";
export * from "./google-links.ts";
export * from "./grants.ts";
export * from "./hooks.ts";
export { MIGRATIONS, type Migration } from "./migrations/index.ts";
export * from "./nodes.ts";
export * from "./oauth-clients.ts";
export * from "./outbox.ts";
export * from "./pins.ts";
export * from "./scenes.ts";
export * from "./subscriptions.ts";
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
  readonly grants: GrantStore;
  readonly alexaGrants: AlexaGrantStore;
  readonly googleLinks: GoogleLinkStore;
  readonly scenes: SceneStore;
  readonly pins: PinStore;
  readonly audit: AuditLog;
  readonly hooks: HookStore;
  readonly subscriptions: SubscriptionStore;
  readonly outbox: OutboxStore;
  readonly claimTokens: ClaimTokenStore;

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
    this.users = new UserStore(db);
    this.oauthClients = new OAuthClientStore(db);
    this.grants = new GrantStore(db);
    this.alexaGrants = new AlexaGrantStore(db);
    this.googleLinks = new GoogleLinkStore(db);
    this.scenes = new SceneStore(db);
    this.pins = new PinStore(db);
    this.audit = new AuditLog(db);
    this.hooks = new HookStore(db);
    this.subscriptions = new SubscriptionStore(db);
    this.outbox = new OutboxStore(db);
    this.claimTokens = new ClaimTokenStore(db);
    // Registered here rather than by the token service, so that a password changed or a user or client
    // removed through the CLI, which opens only the store, revokes what was issued on it too.
    this.users.onCredentialsChanged((userId) => this.grants.revokeUser(userId, Date.now()));
    this.oauthClients.onRemoved((clientId) => this.grants.revokeClient(clientId, Date.now()));
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
