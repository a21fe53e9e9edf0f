/**
 * systemd's notification protocol (sd_notify(3)) for `Type=notify` and `WatchdogSec=` in
 * systemd/hearth.service: READY=1 once the daemon serves, a STATUS= line for `systemctl status`, STOPPING=1
 * when a shutdown begins, and WATCHDOG=1 every WATCHDOG_USEC/2 while the event loop runs. This module is the
 * only place that speaks the protocol.
 *
 * Each message is one datagram to the AF_UNIX socket named by NOTIFY_SOCKET. Node has no AF_UNIX datagram
 * sockets, so the optional native package unix-dgram sends them. Everything here is best effort: without
 * NOTIFY_SOCKET (not started by systemd) it does nothing; without unix-dgram, or with a socket it cannot
 * address, it warns once and does nothing; a failed send is logged, never thrown.
 *
 * unix-dgram copies the address with strncpy and passes the whole sockaddr_un as its length, so an abstract
 * socket ("@name", a leading NUL on the wire) cannot be expressed with it. systemd's service manager always
 * names a path (/run/systemd/notify, or $XDG_RUNTIME_DIR/systemd/notify for a user manager); abstract names
 * come from other supervisors, and are refused with a warning rather than sent to a wrong address.
 */
import { createRequire } from "node:module";
import { getSystemErrorName } from "node:util";
import type { Logger } from "../log.ts";

/** The part of unix-dgram used here. */
interface UnixDgram {
  createSocket(type: "unix_dgram"): UnixDgramSocket;
}

interface UnixDgramSocket {
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Calls back synchronously, with an error whose errno is negative on failure. */
  send(buffer: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void;
  close(): void;
}

/** sun_path is 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** setTimeout's largest delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SystemdNotifierOptions {
  log: Logger;
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** This process's id (default: process.pid); sent as MAINPID and compared with WATCHDOG_PID. */
  pid?: number;
}

export class SystemdNotifier {
  /** How often WATCHDOG=1 is sent once ready, or undefined when systemd asked for no watchdog. */
  readonly watchdogIntervalMs: number | undefined;
  private readonly log: Logger;
  private readonly pid: number;
  private readonly socketPath: string | undefined;
  private readonly dgram: UnixDgram | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** After a failed send only the first failure is a warning, so a gone socket does not flood the journal. */
  private failing = false;

  constructor(options: SystemdNotifierOptions) {
    const env = options.env ?? process.env;
    this.log = options.log;
    this.pid = options.pid ?? process.pid;
    const socket = env.NOTIFY_SOCKET;
    if (!socket) {
      this.log.debug("NOTIFY_SOCKET is not set: systemd is not waiting for readiness, nothing is sent");
      return;
    }
    const unusable = unusableSocketReason(socket);
    if (unusable) {
      this.log.warn(
        { notifySocket: socket },
        `systemd is not notified: ${unusable}; a Type=notify unit then times out at start (docs/deploy.md)`,
      );
      return;
    }
    const dgram = loadUnixDgram();
    if (typeof dgram === "string") {
      // A warning, not a debug line: NOTIFY_SOCKET says systemd is waiting for READY=1, which will not come.
      this.log.warn(
        { err: dgram },
        "systemd is not notified: the optional package unix-dgram is not installed or did not build; a Type=notify " +
          "unit then times out at start (docs/deploy.md)",
      );
      return;
    }
    this.socketPath = socket;
    this.dgram = dgram;
    this.watchdogIntervalMs = this.watchdogInterval(env);
  }

  /** True when messages are sent: NOTIFY_SOCKET is set, usable, and unix-dgram is loaded. */
  get enabled(): boolean {
    return this.dgram !== undefined;
  }

  /**
   * The service is up: READY=1 with a status line and the main pid, then the watchdog pings begin. systemd
   * applies the watchdog from readiness on, so nothing is lost by not pinging earlier.
   */
  ready(status?: string): void {
    this.send(["READY=1", ...(status ? [`STATUS=${oneLine(status)}`] : []), `MAINPID=${this.pid}`]);
    this.startWatchdog();
  }

  /** A free-form line that `systemctl status` shows. */
  status(text: string): void {
    this.send([`STATUS=${oneLine(text)}`]);
  }

  /**
   * A shutdown has begun. The pings stop: systemd watches a stopping service with TimeoutStopSec, not with
   * the watchdog. `timeoutMs`, the longest the shutdown may take, asks systemd to wait at least that long
   * (EXTEND_TIMEOUT_USEC only ever lengthens TimeoutStopSec, never shortens it).
   */
  stopping(timeoutMs?: number): void {
    this.stopWatchdog();
    const extend = timeoutMs && timeoutMs > 0 ? [`EXTEND_TIMEOUT_USEC=${Math.ceil(timeoutMs) * 1000}`] : [];
    this.send(["STOPPING=1", "STATUS=shutting down", ...extend]);
  }

  stopWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private startWatchdog(): void {
    const interval = this.watchdogIntervalMs;
    if (interval === undefined || this.watchdog) return;
    // A timer on the event loop: while the loop is blocked nothing is sent, and systemd's restart is the
    // point. Unref'd, so the pings never keep a finished process alive.
    this.watchdog = setInterval(() => this.send(["WATCHDOG=1"]), interval);
    this.watchdog.unref();
  }

  /** Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, if the watchdog is this process's. */
  private watchdogInterval(env: NodeJS.ProcessEnv): number | undefined {
    const usec = env.WATCHDOG_USEC;
    if (!usec) return undefined;
    const owner = env.WATCHDOG_PID;
    if (owner && owner !== String(this.pid)) {
      this.log.debug({ watchdogPid: owner }, "WATCHDOG_PID names another process: no watchdog pings from this one");
      return undefined;
    }
    if (!/^\d+$/.test(usec) || Number(usec) === 0) {
      this.log.warn(
        { watchdogUsec: usec },
        "WATCHDOG_USEC is not a positive number of microseconds: no watchdog pings",
      );
      return undefined;
    }
    return Math.min(Math.max(Math.floor(Number(usec) / 2000), 1), MAX_TIMER_MS);
  }

  private send(fields: string[]): void {
    const { dgram, socketPath } = this;
    if (!dgram || !socketPath) return;
    const message = Buffer.from(fields.join("\n"));
    let socket: UnixDgramSocket | undefined;
    try {
      socket = dgram.createSocket("unix_dgram");
      socket.on("error", (error) => this.failed(fields, error));
      socket.send(message, 0, message.length, socketPath, (error) =>
        error ? this.failed(fields, error) : this.succeeded(),
      );
    } catch (error) {
      this.failed(fields, error as Error);
    } finally {
      // One socket per message, as sd_notify does: nothing stays open, and an open socket's poll handle
      // would keep the event loop alive.
      try {
        socket?.close();
      } catch {
        // Closing a socket that failed to open: nothing to release.
      }
    }
  }

  private failed(fields: string[], error: Error & { errno?: unknown }): void {
    const code = typeof error.errno === "number" && error.errno < 0 ? getSystemErrorName(error.errno) : error.message;
    const context = { notifySocket: this.socketPath, message: fields[0], err: code };
    if (this.failing) {
      this.log.debug(context, "systemd notification failed again");
      return;
    }
    this.failing = true;
    this.log.warn(context, "a notification to systemd failed; Hearth keeps running");
  }

  private succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info({ notifySocket: this.socketPath }, "notifications to systemd work again");
  }
}

/** Why NOTIFY_SOCKET cannot be used, or undefined when it can. */
function unusableSocketReason(socket: string): string | undefined {
  if (socket.startsWith("@")) return "NOTIFY_SOCKET names an abstract socket, which unix-dgram cannot address";
  if (!socket.startsWith("/")) return "NOTIFY_SOCKET is not an absolute path (only AF_UNIX paths are supported)";
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    return `NOTIFY_SOCKET is longer than the ${MAX_SOCKET_PATH_BYTES} bytes of a socket address`;
  }
  return undefined;
}

/** unix-dgram is CommonJS and optional: the module, or why it could not be loaded. */
function loadUnixDgram(): UnixDgram | string {
  try {
    return createRequire(import.meta.url)("unix-dgram") as UnixDgram;
  } catch (error) {
    return (error as Error).message.split("\n")[0] ?? String(error);
  }
}

/** A status line must not contain a newline: it would start another field of the message. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}
