/**
 * Free loopback ports for tests that start real servers.
 *
 * The port is found by letting the kernel pick one for a throwaway listener and closing it again, so another
 * process can take it before the caller binds it. Callers that start an external server should retry on
 * "Address already in use".
 */
import { createServer } from "node:net";

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a throwaway listener"));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}
