/**
 * Bridge-side scenes: named lists of device commands run together. Scenes come from the config file
 * (read-only, fixed until a restart) or from the admin API (stored); a config scene hides an API scene
 * with the same id. Activation runs every action through the command service, so a scene action is
 * validated, confirmed and logged like any other command, under the actor who activated the scene.
 */
import type { DeviceState, EventBus } from "../bus.ts";
import type { CommandService } from "../devices/commands.ts";
import type { Logger } from "../log.ts";
import { CommandError, type CommandErrorCode, validateCommand } from "../model/index.ts";
import type { Store } from "../store/index.ts";
import { SceneError } from "./errors.ts";
import { type SceneAction, type SceneDefinition, SceneDefinitionSchema } from "./schema.ts";

export type SceneSource = "config" | "api";

export type Scene = SceneDefinition & { source: SceneSource };

export interface SceneActionResult {
  device: string;
  /** `accepted`: the node took the command and will report the outcome as state later. */
  status: "ok" | "accepted" | "error";
  /** On `error`: a command error code, or `internal` for a failure that is not the device's. */
  code?: CommandErrorCode | "internal";
  message?: string;
  /** On success: the state the node confirmed. */
  state?: DeviceState;
}

export interface SceneActivation {
  scene: Scene;
  /** `ok`: every action succeeded; `partial`: some failed; `error`: every action failed. */
  status: "ok" | "partial" | "error";
  /** One result per action, in the scene's order. */
  results: SceneActionResult[];
}

export interface SceneServiceOptions {
  store: Store;
  commands: CommandService;
  bus: EventBus;
  log: Logger;
  configScenes: readonly SceneDefinition[];
  now?: () => number;
}

/** The scene as the admin API and `hearth scenes --json` show it. */
export function sceneView(scene: Scene) {
  return { id: scene.id, name: scene.name, source: scene.source, actions: scene.actions };
}

function byName(a: Scene, b: Scene): number {
  return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

/**
 * Every scene, sorted by name: the config's first, then the stored ones whose id no config scene takes.
 * The CLI lists scenes with this too, from the same config and store the daemon uses.
 */
export function mergeScenes(configScenes: readonly SceneDefinition[], apiScenes: readonly SceneDefinition[]): Scene[] {
  const scenes = new Map<string, Scene>();
  for (const { id, name, actions } of configScenes) {
    if (!scenes.has(id)) scenes.set(id, { id, name, actions, source: "config" });
  }
  for (const { id, name, actions } of apiScenes) {
    if (!scenes.has(id)) scenes.set(id, { id, name, actions, source: "api" });
  }
  return [...scenes.values()].sort(byName);
}

export class SceneService {
  /** Config scenes by id; the first of two with the same id wins. */
  private readonly configScenes = new Map<string, SceneDefinition>();
  private readonly now: () => number;

  constructor(private readonly options: SceneServiceOptions) {
    this.now = options.now ?? Date.now;
    const { log, store } = options;
    for (const scene of options.configScenes) {
      if (this.configScenes.has(scene.id)) {
        log.warn({ scene: scene.id }, "the config defines this scene id twice; the first definition is used");
        continue;
      }
      this.configScenes.set(scene.id, scene);
    }
    for (const scene of store.scenes.list()) {
      if (this.configScenes.has(scene.id)) {
        log.warn(
          { scene: scene.id },
          "a scene created through the API has the id of a config scene, which hides it; give the config scene another id to reach it",
        );
      }
    }
    // Checked, not refused: a node may simply not have announced its devices yet.
    for (const scene of this.configScenes.values()) {
      scene.actions.forEach((action, index) => {
        const problem = this.actionProblem(action);
        if (problem)
          log.warn({ scene: scene.id }, `a config scene action cannot run now: actions[${index}]: ${problem}`);
      });
    }
  }

  list(): Scene[] {
    return mergeScenes([...this.configScenes.values()], this.options.store.scenes.list());
  }

  get(id: string): Scene | undefined {
    const fromConfig = this.configScenes.get(id);
    if (fromConfig) return { ...fromConfig, source: "config" };
    const stored = this.options.store.scenes.get(id);
    return stored ? { id: stored.id, name: stored.name, actions: stored.actions, source: "api" } : undefined;
  }

  /** Creates or replaces an API scene after checking every action against the devices as they are now. */
  put(definition: SceneDefinition): { created: boolean } {
    const parsed = SceneDefinitionSchema.safeParse(definition);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
      throw new SceneError("invalid_scene", `${where}${issue?.message ?? "not a valid scene"}`);
    }
    const scene = parsed.data;
    this.refuseConfigScene(scene.id);
    scene.actions.forEach((action, index) => {
      const problem = this.actionProblem(action);
      if (problem) throw new SceneError("invalid_action", `actions[${index}]: ${problem}`);
    });
    const at = this.now();
    const existed = this.options.store.scenes.put(scene, at);
    this.options.log.info(
      { scene: scene.id, actions: scene.actions.length },
      existed ? "scene replaced" : "scene created",
    );
    this.options.bus.emit("scene.registry", {
      added: existed ? [] : [scene.id],
      removed: [],
      changed: existed ? [scene.id] : [],
      at,
    });
    return { created: !existed };
  }

  remove(id: string): void {
    this.refuseConfigScene(id);
    if (!this.options.store.scenes.remove(id)) throw new SceneError("unknown_scene", `no scene "${id}"`);
    this.options.log.info({ scene: id }, "scene removed");
    this.options.bus.emit("scene.registry", { added: [], removed: [id], changed: [], at: this.now() });
  }

  /**
   * Runs every action of the scene and reports each outcome; a failed action is a result, never a
   * rejection. Actions on different devices run at once; actions on the same device run in the scene's
   * order, so "dim to 20 %, then switch off" ends switched off.
   */
  async activate(id: string, actor: string, options: { timeoutMs?: number } = {}): Promise<SceneActivation> {
    const scene = this.get(id);
    if (!scene) throw new SceneError("unknown_scene", `no scene "${id}"`);
    const results = await runActions(this.options.commands, scene.actions, actor, this.options.log, options.timeoutMs);
    const failed = results.filter((result) => result.status === "error").length;
    const status = failed === 0 ? "ok" : failed === results.length ? "error" : "partial";
    this.options.log.info({ scene: scene.id, actor, status, failed }, "scene activated");
    return { scene, status, results };
  }

  /** Why the action could not run on the device as it is declared now, or undefined when it could. */
  private actionProblem(action: SceneAction): string | undefined {
    const device = this.options.store.devices.get(action.device);
    if (!device?.present) return `no device "${action.device}"`;
    try {
      validateCommand(device.definition, action.op ?? "set", action.params ?? {});
      return undefined;
    } catch (error) {
      if (error instanceof CommandError) return error.message;
      throw error;
    }
  }

  private refuseConfigScene(id: string): void {
    if (this.configScenes.has(id)) {
      throw new SceneError("read_only", `scene "${id}" comes from the config file; change it there`);
    }
  }
}

/**
 * Runs a list of actions as confirmed commands and reports each outcome; a failed action is a result,
 * never a rejection. Actions on different devices run at once; actions on the same device run in the
 * list's order, so "dim to 20 %, then switch off" ends switched off. Scenes and inbound webhooks both run
 * their actions this way.
 */
export async function runActions(
  commands: Pick<CommandService, "send">,
  actions: readonly SceneAction[],
  actor: string,
  log: Logger,
  timeoutMs?: number,
): Promise<SceneActionResult[]> {
  const results: SceneActionResult[] = new Array(actions.length);
  const byDevice = new Map<string, number[]>();
  actions.forEach((action, index) => {
    byDevice.set(action.device, [...(byDevice.get(action.device) ?? []), index]);
  });
  const run = async (action: SceneAction): Promise<SceneActionResult> => {
    try {
      const result = await commands.send({
        deviceId: action.device,
        ...(action.op ? { op: action.op } : {}),
        params: action.params ?? {},
        actor,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      });
      return { device: action.device, status: result.status, state: result.state };
    } catch (error) {
      if (error instanceof CommandError) {
        return { device: action.device, status: "error", code: error.code, message: error.message };
      }
      log.error({ err: error, device: action.device, actor }, "an action failed unexpectedly");
      return { device: action.device, status: "error", code: "internal", message: "internal error" };
    }
  };
  await Promise.all(
    [...byDevice.values()].map(async (indexes) => {
      for (const index of indexes) results[index] = await run(actions[index] as SceneAction);
    }),
  );
  return results;
}
