/**
 * What Hearth reads from an ESP32 application image: the version in its ESP-IDF app description, so that
 * `hearth ota push` needs no `--version` for an image built with ESP-IDF. The layout is fixed by ESP-IDF:
 * a 24-byte image header and the first segment's 8-byte header, then `esp_app_desc_t`, which starts with
 * its magic word and holds the NUL-padded `version[32]` 16 bytes further on.
 */
import { FIRMWARE_VERSION_PATTERN } from "../devices/protocol.ts";

/** `ESP_APP_DESC_MAGIC_WORD`, stored little-endian. */
export const APP_DESC_MAGIC = 0xabcd5432;
/** 24-byte `esp_image_header_t` + 8-byte `esp_image_segment_header_t`. */
export const APP_DESC_OFFSET = 32;
/** `magic_word`, `secure_version` and `reserv1[2]` come before `version`. */
export const APP_DESC_VERSION_OFFSET = APP_DESC_OFFSET + 16;
export const APP_DESC_VERSION_BYTES = 32;

export type AppVersion =
  | { found: true; version: string }
  /** `no_descriptor`: no app description at all; `bad_version`: one whose version cannot be used. */
  | { found: false; reason: "no_descriptor" | "bad_version"; raw?: string };

export function readAppVersion(image: Uint8Array): AppVersion {
  const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  if (bytes.length < APP_DESC_VERSION_OFFSET + APP_DESC_VERSION_BYTES) return { found: false, reason: "no_descriptor" };
  if (bytes.readUInt32LE(APP_DESC_OFFSET) !== APP_DESC_MAGIC) return { found: false, reason: "no_descriptor" };
  const field = bytes.subarray(APP_DESC_VERSION_OFFSET, APP_DESC_VERSION_OFFSET + APP_DESC_VERSION_BYTES);
  const end = field.indexOf(0);
  const raw = field.subarray(0, end === -1 ? field.length : end).toString("latin1");
  if (!FIRMWARE_VERSION_PATTERN.test(raw)) return { found: false, reason: "bad_version", raw };
  return { found: true, version: raw };
}
