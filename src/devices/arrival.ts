/**
 * Waiting for a slow actuator to arrive: a lock or door that answered `accepted` reports its final state
 * later, and the assistant that asked wants to say so. One watcher per adapter; `stop()` ends every wait.
 */
import type { DeviceState, EventBus } from "../bus.ts";
import { type CanonicalCommand, hasArrived, type ParamValue } from "../model/index.ts";
import { newId } from "../security/secrets.ts";
import type { Store } from "../store/index.ts";
import type { CommandService } from "./commands.ts";

/** What an assistant learns from a command: the confirmed state, and whether the device is still on its way. */
export interface AssistantCommandResult {
  state: DeviceState;
  /** The node took the command (`accepted`) and had not arrived by the deadline. */
  moving: boolean;
}

/**
 * An assistant's command: sent with the platform's deadline; a slow actuator that accepted it is given
 * the rest of that deadline to arrive, so that the assistant hears the state it asked for when it can.
 * Rejects with the CommandError as `CommandService.send` does.
 */
export async function sendForAssistant(
  commands: Pick<CommandService, "send">,
  arrivals: ArrivalWatcher,
  request: { deviceId: string; command: CanonicalCommand; actor: string; timeoutMs: number },
): Promise<AssistantCommandResult> {
  const { deviceId, command, actor, timeoutMs } = request;
  const result = await commands.send({
    deviceId,
    ...(command.op ? { op: command.op } : {}),
    params: command.params ?? {},
    actor,
    timeoutMs,
  });
  if (result.status !== "accepted" || !command.params) return { state: result.state, moving: false };
  const arrived = await arrivals.wait(deviceId, command.params, timeoutMs - result.latencyMs);
  return arrived ? { state: arrived, moving: false } : { state: result.state, moving: true };
}

export class ArrivalWatcher {
  private readonly waits = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly bus: EventBus,
    private readonly store: Store,
  ) {}

  /** Resolves with the device's state once it has arrived where `params` sent it, or undefined at the deadline. */
  wait(deviceId: string, params: Record<string, ParamValue>, withinMs: number): Promise<DeviceState | undefined> {
    const definition = this.store.devices.get(deviceId)?.definition;
    const reached = (state: DeviceState) => definition !== undefined && hasArrived(definition, params, state);
    const current = this.store.devices.get(deviceId)?.state;
    if (current && reached(current)) return Promise.resolve(current);
    if (withinMs <= 0 || this.stopped) return Promise.resolve(undefined);
    const owner = `arrival-${newId()}`;
    return new Promise((resolve) => {
      const done = (state: DeviceState | undefined) => {
        clearTimeout(timer);
        this.bus.removeListeners(owner);
        this.waits.delete(end);
        resolve(state);
      };
      const end = () => done(undefined);
      this.waits.add(end);
      const timer = setTimeout(end, withinMs);
      this.bus.on(owner, "device.state", (event) => {
        if (event.deviceId === deviceId && reached(event.state)) done(event.state);
      });
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const end of [...this.waits]) end();
  }
}
