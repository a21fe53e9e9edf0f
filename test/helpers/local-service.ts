/**
 * What every local stand-in for an outside service needs: an HTTP server on a free loopback port whose
 * handler failures are a bare 500, a clean stop, and a way to wait for requests to arrive.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export async function listenLocally(
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<{ server: Server; baseUrl: string }> {
  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}` };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Waiting for recorded requests: `notify()` after each one; `waitFor` resolves with a copy of the list once
 * it holds at least `count`, and rejects after `timeoutMs` naming `what`.
 */
export class RequestWaiters {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  waitFor<T>(list: () => readonly T[], count: number, timeoutMs: number, what: string): Promise<T[]> {
    if (list().length >= count) return Promise.resolve([...list()]);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (list().length < count) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve([...list()]);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`expected ${count} ${what} requests within ${timeoutMs} ms, got ${list().length}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}
