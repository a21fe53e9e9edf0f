/**
 * TLS certificates for tests, made with Debian's `openssl`: a test CA (give its certificate to a child
 * process as NODE_EXTRA_CA_CERTS to make it trusted there), certificates it issues for 127.0.0.1 with a
 * chosen lifetime, and a self-signed one. EC P-256 keys, so that making them takes milliseconds.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface KeyPair {
  key: string;
  cert: string;
}

const SUBJECT_ALT_NAME = "subjectAltName=IP:127.0.0.1,DNS:localhost";
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function read(dir: string, name: string): KeyPair {
  return {
    key: readFileSync(join(dir, `${name}.key`), "utf8"),
    cert: readFileSync(join(dir, `${name}.crt`), "utf8"),
  };
}

export class TestCertificates {
  private constructor(readonly dir: string) {}

  /** Makes the CA in `dir` (created if needed). */
  static create(dir: string): TestCertificates {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    openssl(
      [
        "req",
        "-x509",
        ...EC_KEY,
        "-days",
        "3650",
        "-subj",
        "/CN=Hearth Test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
      ],
      dir,
    );
    return new TestCertificates(dir);
  }

  /** The CA's certificate: what NODE_EXTRA_CA_CERTS names. */
  get caFile(): string {
    return join(this.dir, "ca.crt");
  }

  /** A certificate for 127.0.0.1 and localhost from the test CA, valid for `days` from now. */
  issue(name: string, days: number): KeyPair {
    openssl(["req", ...EC_KEY, "-subj", "/CN=127.0.0.1", "-keyout", `${name}.key`, "-out", `${name}.csr`], this.dir);
    writeFileSync(join(this.dir, `${name}.ext`), `${SUBJECT_ALT_NAME}\n`);
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        String(days),
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ],
      this.dir,
    );
    return read(this.dir, name);
  }

  /** A certificate for 127.0.0.1 that signs itself. */
  selfSigned(name: string): KeyPair {
    openssl(
      [
        "req",
        "-x509",
        ...EC_KEY,
        "-days",
        "365",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        SUBJECT_ALT_NAME,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.crt`,
      ],
      this.dir,
    );
    return read(this.dir, name);
  }
}

/** An HTTPS server on a free loopback port; `handler` answers every request. */
export async function startHttps(
  pair: KeyPair,
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; url: string; stop: () => Promise<void> }> {
  const server = createServer({ key: pair.key, cert: pair.cert }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `https://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
