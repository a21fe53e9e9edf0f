import type { SceneAction, SceneDefinition } from "../scenes/schema.ts";
import type { Db } from "./database.ts";
import { durably } from "./database.ts";

export interface StoredScene extends SceneDefinition {
  createdAt: number;
  updatedAt: number;
}

interface SceneRow {
  id: string;
  name: string;
  actions: string;
  created_at: number;
  updated_at: number;
}

function toStored(row: SceneRow): StoredScene {
  return {
    id: row.id,
    name: row.name,
    actions: JSON.parse(row.actions) as SceneAction[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Scenes created through the admin API. Definitions are checked by the scene service before they get here;
 * scenes from the config file never do. Writes commit with `synchronous=FULL`: a scene someone just set up
 * must not vanish with a power cut.
 */
export class SceneStore {
  private readonly getStmt;
  private readonly listStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], SceneRow>("SELECT * FROM scenes WHERE id = ?");
    this.listStmt = db.prepare<[], SceneRow>("SELECT * FROM scenes ORDER BY name, id");
  }

  list(): StoredScene[] {
    return this.listStmt.all().map(toStored);
  }

  get(id: string): StoredScene | undefined {
    const row = this.getStmt.get(id);
    return row ? toStored(row) : undefined;
  }

  /** Inserts the scene or replaces the one with its id (keeping its creation time); true when it existed. */
  put(definition: SceneDefinition, now: number): boolean {
    const actions = JSON.stringify(definition.actions);
    return durably(this.db, () => {
      const existed = this.getStmt.get(definition.id) !== undefined;
      if (existed) {
        this.db
          .prepare("UPDATE scenes SET name = ?, actions = ?, updated_at = ? WHERE id = ?")
          .run(definition.name, actions, now, definition.id);
      } else {
        this.db
          .prepare("INSERT INTO scenes (id, name, actions, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
          .run(definition.id, definition.name, actions, now, now);
      }
      return existed;
    });
  }

  remove(id: string): boolean {
    return durably(this.db, () => this.db.prepare("DELETE FROM scenes WHERE id = ?").run(id).changes > 0);
  }
}
