// Firmware port for the host build: two simulated OTA slots in <state-dir>/fw/ and a simulated bootloader.
//
// The board's behaviour it reproduces (ESP-IDF with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE):
// - begin/write/finish fill the inactive slot (fw/next.bin) and choose it for the next boot;
// - at the next start the bootloader boots the chosen image, which runs "pending verify";
// - mark_running_valid() makes it permanent;
// - a start while the running image is still pending verify (it restarted before confirming) rolls back to the
//   image that ran before it.
// The slots' state lives in fw/slots, a few key=value lines written atomically.
//
// For end-to-end tests of a rollback: an image whose bytes contain kBrokenImageMarker is a simulated image that
// cannot reach the broker. While it runs pending verify, broken_image_running() is true and hearth-node never
// brings the network up, so the core's confirm timeout restarts it and the next start rolls back.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ports.h"
#include "stderr_log.h"

namespace hearth_host {

constexpr const char kBrokenImageMarker[] = "HEARTH-HOST-BROKEN-IMAGE";

class SimFirmware final : public hearth::Firmware {
 public:
  // factory_version: the version of the image "flashed by hand" (--fw-version). max_image_bytes: the slot size.
  SimFirmware(StderrLog* log, const char* factory_version, size_t max_image_bytes);
  ~SimFirmware();
  SimFirmware(const SimFirmware&) = delete;
  SimFirmware& operator=(const SimFirmware&) = delete;

  // Loads fw/slots under dir and runs the simulated bootloader: boots a chosen image or rolls back. False when
  // the folder cannot be used.
  bool boot(const char* dir);
  bool broken_image_running() const { return state_.pending && state_.broken; }

  bool begin(size_t image_size, const char* version) override;
  bool write(const uint8_t* data, size_t len) override;
  bool finish() override;
  void abort() override;
  const char* running_version() override;
  bool running_pending_verify() override { return state_.pending; }
  void mark_running_valid() override;

 private:
  static constexpr size_t kVersionCap = 40;
  static constexpr size_t kMarkerLen = sizeof kBrokenImageMarker - 1;

  struct SlotState {
    char factory[kVersionCap];   // --fw-version when these slots were last used; another one means a new flash
    char running[kVersionCap];   // the booted image's version; "" = the factory image
    char previous[kVersionCap];  // what a rollback returns to ("" = the factory image)
    char next[kVersionCap];      // the image chosen for the next boot, or ""
    bool pending;                // running image not yet marked valid
    bool broken;                 // running image carries the broken marker
    bool next_broken;            // chosen image carries the broken marker
  };

  bool load_state();
  bool save_state();
  void scan_for_marker(const uint8_t* data, size_t len);
  void close_next();

  StderrLog* log_;
  char factory_version_[kVersionCap];
  size_t max_image_bytes_;
  char dir_[512] = {};
  SlotState state_ = {};

  // The download in progress.
  int next_fd_ = -1;
  char next_version_[kVersionCap] = {};
  size_t expected_ = 0;
  size_t written_ = 0;
  bool marker_seen_ = false;
  uint8_t tail_[kMarkerLen] = {};  // the last bytes written, to find a marker split across two writes
  size_t tail_len_ = 0;
};

}  // namespace hearth_host
