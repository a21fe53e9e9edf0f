// Firmware updates (protocol §14.1). An accepted `ota` command becomes a job: the image is fetched over HTTP
// a few KB per tick (commands keep being served), written to the inactive slot and hashed on the way, checked
// for size and SHA-256, then chosen for the next boot. The job is kept in the key-value store across the
// restart, so that the new image (or the old one, after the bootloader rolled back) reports the outcome.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ports.h"
#include "sha256.h"

namespace hearth {

constexpr size_t kOtaUrlChars = 256;
constexpr size_t kOtaVersionChars = 32;
constexpr size_t kOtaChunkBytes = 4096;
// Key-value store key of the job: {"id","version","phase"} with phase "downloading" or "installed".
constexpr const char* kOtaJobKey = "ota_job";

struct OtaRequest {
  char id[33];
  char url[kOtaUrlChars + 1];
  char sha256[65];
  uint32_t size;
  char version[kOtaVersionChars + 1];
};

enum class OtaState : uint8_t { Downloading, Verifying, Rebooting, Success, Failed, Rejected };
const char* ota_state_name(OtaState state);

// One ota/status message. progress < 0 and nullptr strings are left out.
struct OtaStatus {
  const char* id;
  OtaState state;
  int progress;
  const char* version;
  const char* error;
  const char* msg;
};

// What the job needs from the node: a way to report, and the restart into the new image.
class OtaSink {
 public:
  virtual void ota_report(const OtaStatus& status) = 0;
  // The image is chosen for the next boot: publish offline, disconnect, restart.
  virtual void ota_restart() = 0;

 protected:
  ~OtaSink() = default;
};

class Ota {
 public:
  void init(Http* http, Firmware* firmware, KeyValueStore* kv, Log* log);
  // At boot: reads a job the previous run left, to report its outcome once online.
  void boot();
  // A download or an install is under way: a second `ota` is answered `busy`.
  bool busy() const { return phase_ != Phase::Idle; }
  // After the node answered `accepted`: the version and slot checks, the job record, the first report.
  void start(const OtaRequest& request, OtaSink& sink);
  // One download step.
  void tick(OtaSink& sink);
  // The node is online (announced): the outcome of a job from before the restart is reported now.
  void online(OtaSink& sink);
  // The node stops (shutdown): the partial image is dropped. The job record stays, so that the next boot
  // reports the update as interrupted.
  void cancel();

 private:
  enum class Phase : uint8_t { Idle, Opening, Reading, Restarting };
  enum class Outcome : uint8_t { None, Success, RolledBack, Interrupted };

  void fail(OtaSink& sink, const char* error, const char* msg);
  void verify_and_install(OtaSink& sink);
  void report_progress(OtaSink& sink);
  bool save_job(const char* phase);

  Http* http_ = nullptr;
  Firmware* firmware_ = nullptr;
  KeyValueStore* kv_ = nullptr;
  Log* log_ = nullptr;

  Phase phase_ = Phase::Idle;
  OtaRequest job_ = {};
  bool slot_open_ = false;
  bool http_open_ = false;
  uint32_t received_ = 0;
  int next_report_pct_ = 0;
  Sha256 hash_;
  uint8_t chunk_[kOtaChunkBytes] = {};

  // The outcome of the previous run's job, reported once online.
  Outcome outcome_ = Outcome::None;
  char outcome_id_[33] = {};
  char outcome_version_[kOtaVersionChars + 1] = {};
};

}  // namespace hearth
