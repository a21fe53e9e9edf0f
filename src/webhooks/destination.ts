/**
 * The guard against server-side request forgery: a subscription URL must not make Hearth POST into the
 * network it sits in (the router's admin page, a cloud metadata service at 169.254.169.254, the daemon's
 * own admin API). Loopback, private (RFC 1918), CGNAT, link-local, unique-local IPv6, unspecified,
 * multicast and reserved addresses are refused unless `webhooks.allowPrivateDestinations` is on.
 *
 * A name is checked twice: when the subscription is created (every address it resolves to must be
 * public), and at every delivery, inside the connection's own DNS lookup, so that the address checked is
 * the address connected to and a name re-pointed at a private address later (DNS rebinding) is refused.
 *
 * Plain `http:` is allowed only together with private destinations: a public receiver must use HTTPS,
 * since the events describe the house and a signature proves who sent them, not that nobody read them.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

/** Resolves a host name to every address it has, as `dns.lookup(name, {all: true})` does. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

export class DestinationError extends Error {
  override readonly name = "DestinationError";
}

const MAX_URL_LENGTH = 2048;

/** Never a webhook receiver unless private destinations are allowed. IPv4-mapped IPv6 matches the IPv4 rules. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network", including the unspecified address
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // CGNAT (RFC 6598)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata services
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated, still routed by some)
  ["ff00::", 8], // multicast
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv6");
}

/** True for an address a webhook may not reach without `allowPrivateDestinations`. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return NON_PUBLIC.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** The host of a URL without the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

/** Checks the form of a subscription URL (scheme, no credentials, a literal address's range); no DNS. */
export function parseDestination(raw: string, allowPrivate: boolean): URL {
  if (raw.length > MAX_URL_LENGTH) throw new DestinationError(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationError(`"${raw.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new DestinationError("the URL must start with https://");
  }
  if (url.protocol === "http:" && !allowPrivate) {
    throw new DestinationError(
      "the URL must use https:// (plain http:// only with webhooks.allowPrivateDestinations, for receivers on your own network)",
    );
  }
  if (url.username || url.password) {
    throw new DestinationError("the URL must not contain a user name or password; put a token in the path instead");
  }
  const host = hostOf(url);
  if (isIP(host) !== 0) refuseAddress(host, host, allowPrivate);
  return url;
}

function refuseAddress(host: string, address: string, allowPrivate: boolean): void {
  if (allowPrivate || !isNonPublicAddress(address)) return;
  const what = host === address ? address : `${host} resolves to ${address}, which`;
  throw new DestinationError(
    `${what} is a loopback, private or link-local address; webhooks go there only with webhooks.allowPrivateDestinations`,
  );
}

/**
 * The full check made when a subscription is created: the URL's form, and every address its host resolves
 * to. Rejects with a DestinationError saying what is wrong.
 */
export async function checkDestination(
  raw: string,
  options: { allowPrivate: boolean; resolve?: Resolver },
): Promise<URL> {
  const url = parseDestination(raw, options.allowPrivate);
  const host = hostOf(url);
  if (isIP(host) !== 0) return url;
  let addresses: LookupAddress[];
  try {
    addresses = await (options.resolve ?? systemResolver)(host);
  } catch (error) {
    throw new DestinationError(`cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? "no address"}`);
  }
  if (addresses.length === 0) throw new DestinationError(`cannot resolve ${host}: no address`);
  for (const { address } of addresses) refuseAddress(host, address, options.allowPrivate);
  return url;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http(s) requests that resolves with `resolve` and refuses, with a DestinationError,
 * a name any of whose addresses is not public. Node calls it for host names only; literal addresses are
 * checked by parseDestination before the request.
 */
export function guardedLookup(resolve: Resolver, allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (found) => {
        const family = options.family === 6 || options.family === "IPv6" ? 6 : options.family === 4 ? 4 : 0;
        const addresses = family === 0 ? found : found.filter((a) => a.family === family);
        try {
          if (addresses.length === 0)
            throw Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" });
          for (const { address } of addresses) refuseAddress(hostname, address, allowPrivate);
        } catch (error) {
          callback(error as NodeJS.ErrnoException, "");
          return;
        }
        const first = addresses[0] as LookupAddress;
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ""),
    );
  };
}
