/**
 * Waiting for a slow actuator to arrive: a lock or door that answered `accepted` reports its final state
 * later, and the assistant that asked wants to say so. One watcher per adapter; `stop()` ends every wait.
 */
import type { DeviceState, EventBus } from "../bus.ts";
import { hasArrived, type ParamValue } from "../model/index.ts";
import { newId } from "../security/secrets.ts";
import type { Store } from "../store/index.ts";

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
