/**
 * One POST to a webhook receiver, with node:http(s) rather than fetch: its `lookup` hook is where the
 * SSRF guard checks the very address the socket connects to (fetch offers no such hook without another
 * dependency), and it never follows a redirect, so a `3xx` is simply an answer, and a failure. Only the
 * status and `Retry-After` are read; the receiver's body is discarded unread.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { DestinationError, guardedLookup, type Resolver } from "./destination.ts";

export type PostOutcome =
  | { status: number; retryAfter: string | undefined }
  /** No answer: `refused` when the SSRF guard stopped it, `aborted` when Hearth is stopping. */
  | { error: string; refused?: true; aborted?: true };

export interface PostRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborts the request when Hearth stops. */
  signal: AbortSignal;
  resolve: Resolver;
  allowPrivate: boolean;
}

export function postWebhook(request: PostRequest): Promise<PostOutcome> {
  const { url, timeoutMs } = request;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([timeout, request.signal]);
  return new Promise((resolve) => {
    let req: ReturnType<typeof send>;
    try {
      req = send(url, {
        method: "POST",
        headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
        // A fresh connection per attempt: no pooled socket outlives a delivery to a slow receiver.
        agent: false,
        lookup: guardedLookup(request.resolve, request.allowPrivate),
        signal,
      });
    } catch (error) {
      resolve({ error: `could not send: ${(error as Error).message}` });
      return;
    }
    req.on("response", (res) => {
      const retryAfter = res.headers["retry-after"];
      resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
      res.destroy();
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (request.signal.aborted) resolve({ error: "Hearth stopped", aborted: true });
      else if (timeout.aborted) resolve({ error: `no answer within ${timeoutMs / 1000} s` });
      else if (error instanceof DestinationError) resolve({ error: `refused: ${error.message}`, refused: true });
      else resolve({ error: `could not connect to ${url.host}: ${error.code ?? error.message}` });
    });
    req.end(request.body);
  });
}
