/**
 * Reading the version from an ESP32 application image: the ESP-IDF app description at offset 32, recognised
 * by its magic word, with the NUL-padded version 16 bytes further on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { imageVersion } from "../../src/cli/ota-push.ts";
import { readAppVersion } from "../../src/ota/image.ts";

/** 24-byte image header, 8-byte segment header, then esp_app_desc_t (magic, secure_version, reserv1, version…). */
function image(version: Buffer | string, magic = 0xabcd5432): Buffer {
  const bytes = Buffer.alloc(256, 0xff);
  bytes[0] = 0xe9;
  bytes.writeUInt32LE(magic, 32);
  bytes.writeUInt32LE(0, 36);
  bytes.fill(0, 40, 48);
  bytes.fill(0, 48, 80);
  (typeof version === "string" ? Buffer.from(version, "latin1") : version).copy(bytes, 48);
  bytes.write("hearth-node", 80, "latin1");
  return bytes;
}

describe("readAppVersion", () => {
  test("reads the version of an image built with ESP-IDF", () => {
    assert.deepEqual(readAppVersion(image("1.4.3")), { found: true, version: "1.4.3" });
    assert.deepEqual(readAppVersion(image("v2.0.0-rc.1+g3f2a1b")), { found: true, version: "v2.0.0-rc.1+g3f2a1b" });
  });

  test("a version that fills all 32 bytes has no NUL and is read whole", () => {
    const full = "1.2.3-".padEnd(32, "x");
    assert.deepEqual(readAppVersion(image(full)), { found: true, version: full });
  });

  test("without the magic word there is no app description, whatever the bytes say", () => {
    assert.deepEqual(readAppVersion(image("1.4.3", 0x3254cdab)), { found: false, reason: "no_descriptor" });
    assert.deepEqual(readAppVersion(Buffer.from("not an image")), { found: false, reason: "no_descriptor" });
    assert.deepEqual(readAppVersion(image("1.4.3").subarray(0, 60)), { found: false, reason: "no_descriptor" });
  });

  test("an empty version or one with spaces or control bytes cannot be used", () => {
    assert.deepEqual(readAppVersion(image("")), { found: false, reason: "bad_version", raw: "" });
    assert.deepEqual(readAppVersion(image("1.4 beta")), { found: false, reason: "bad_version", raw: "1.4 beta" });
    assert.equal(readAppVersion(image(Buffer.from([0x31, 0x0a, 0x32]))).found, false);
  });
});

describe("the version hearth ota push sends", () => {
  test("--version wins over the image; without it the image's is used", () => {
    assert.equal(imageVersion(image("1.4.3"), "a.bin", "9.9.9"), "9.9.9");
    assert.equal(imageVersion(image("1.4.3"), "a.bin", undefined), "1.4.3");
  });

  test("an image without a usable version asks for --version, saying why", () => {
    assert.throws(
      () => imageVersion(Buffer.alloc(100), "a.bin", undefined),
      /a\.bin has no ESP-IDF app description.*--version/,
    );
    assert.throws(
      () => imageVersion(image("1.4 beta"), "a.bin", undefined),
      /\("1\.4 beta"\) cannot be used: pass --version/,
    );
  });
});
