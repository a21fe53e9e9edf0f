import { Command } from "commander";
import type { SceneActionResult, sceneView } from "../scenes/index.ts";
import {
  apiErrorMessage,
  CliError,
  type CommonOptions,
  callDaemon,
  printJson,
  printTable,
  withCommonOptions,
  withStore,
} from "./context.ts";

/** `living-1.light brightness=20; living-1.lamp on=false`: each action as `hearth send` would take it. */
function describeActions(actions: ReturnType<typeof sceneView>["actions"]): string {
  return actions
    .map((action) => {
      const op = action.op && action.op !== "set" ? [`--op ${action.op}`] : [];
      const params = Object.entries(action.params ?? {}).map(([k, v]) => `${k}=${v}`);
      return [action.device, ...op, ...params].join(" ");
    })
    .join("; ");
}

export function scenesCommand(): Command {
  // Config scenes come from the same config file as the daemon's, so this works without a running daemon.
  return withCommonOptions(
    new Command("scenes").description("list scenes from the config file and those created through the API"),
  )
    .option("--json", "print JSON")
    .action((options: CommonOptions & { json?: boolean }) =>
      withStore(options, async (store, config) => {
        const { mergeScenes, sceneView } = await import("../scenes/index.ts");
        const rows = mergeScenes(config.scenes, store.scenes.list()).map(sceneView);
        if (options.json) return printJson(rows);
        if (rows.length === 0) {
          return void process.stdout.write(
            "No scenes yet: add them under `scenes` in the config file, or with PUT /api/v1/scenes/<id>.\n",
          );
        }
        printTable(
          ["SCENE", "NAME", "SOURCE", "ACTIONS"],
          rows.map((scene) => [scene.id, scene.name, scene.source, describeActions(scene.actions)]),
        );
      }),
    );
}

function printResults(results: readonly SceneActionResult[]): void {
  printTable(
    ["DEVICE", "RESULT", "DETAIL"],
    results.map((result) => [
      result.device,
      result.status === "ok" ? "confirmed" : result.status,
      result.status === "error"
        ? `${result.message} (${result.code})`
        : Object.entries(result.state ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(" "),
    ]),
  );
}

export function sceneCommand(): Command {
  const scene = new Command("scene").description("act on one scene");

  withCommonOptions(scene.command("activate <scene>"))
    .description("run a scene through the daemon and print what each device confirmed")
    .option("--json", "print the API's JSON answer")
    .action((id: string, options: CommonOptions & { json?: boolean }) =>
      withStore(options, async (store, config) => {
        const response = await callDaemon(config, store, "POST", `/api/v1/scenes/${encodeURIComponent(id)}/activate`);
        if (options.json) printJson(response.body);
        const body = response.body as {
          status?: string;
          results?: SceneActionResult[];
          // When every action failed, the error still carries each action's result.
          error?: { results?: SceneActionResult[] };
        } | null;
        const results = body?.results ?? body?.error?.results;
        if (!options.json && results) printResults(results);
        if (response.status >= 400) throw new CliError(apiErrorMessage(response));
        if (body?.status !== "ok") {
          const failed = results?.filter((result) => result.status === "error").length ?? 0;
          throw new CliError(`${failed} of ${results?.length ?? 0} actions of scene "${id}" failed`);
        }
      }),
    );

  return scene;
}
