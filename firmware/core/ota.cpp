#include "ota.h"

#include <string.h>

#include "cJSON.h"
#include "logging.h"
#include "text.h"

namespace hearth {

namespace {

constexpr const char* kPhaseDownloading = "downloading";
constexpr const char* kPhaseInstalled = "installed";
constexpr size_t kJobCap = 160;

const char* string_field(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(item) ? item->valuestring : nullptr;
}

}  // namespace

const char* ota_state_name(OtaState state) {
  switch (state) {
    case OtaState::Downloading: return "downloading";
    case OtaState::Verifying: return "verifying";
    case OtaState::Rebooting: return "rebooting";
    case OtaState::Success: return "success";
    case OtaState::Failed: return "failed";
    case OtaState::Rejected: return "rejected";
  }
  return "failed";
}

void Ota::init(Http* http, Firmware* firmware, KeyValueStore* kv, Log* log) {
  http_ = http;
  firmware_ = firmware;
  kv_ = kv;
  log_ = log;
}

bool Ota::save_job(const char* phase) {
  cJSON* job = cJSON_CreateObject();
  bool ok = job != nullptr && cJSON_AddStringToObject(job, "id", job_.id) != nullptr &&
            cJSON_AddStringToObject(job, "version", job_.version) != nullptr &&
            cJSON_AddStringToObject(job, "phase", phase) != nullptr;
  char text[kJobCap];
  ok = ok && cJSON_PrintPreallocated(job, text, sizeof text, false);
  cJSON_Delete(job);
  return ok && kv_->set(kOtaJobKey, text, strlen(text));
}

void Ota::boot() {
  outcome_ = Outcome::None;
  char stored[kJobCap];
  int n = kv_->get(kOtaJobKey, stored, sizeof stored - 1);
  if (n <= 0) return;
  stored[n] = '\0';
  cJSON* job = cJSON_Parse(stored);
  const char* id = string_field(job, "id");
  const char* version = string_field(job, "version");
  const char* phase = string_field(job, "phase");
  bool usable = id != nullptr && version != nullptr && phase != nullptr &&
                text::copy(outcome_id_, sizeof outcome_id_, id) && outcome_id_[0] != '\0' &&
                text::copy(outcome_version_, sizeof outcome_version_, version);
  if (usable && text::equal(phase, kPhaseInstalled)) {
    // The bootloader runs the new image, or went back to the old one when the new one did not confirm.
    outcome_ = text::equal(firmware_->running_version(), version) ? Outcome::Success : Outcome::RolledBack;
  } else if (usable && text::equal(phase, kPhaseDownloading)) {
    outcome_ = Outcome::Interrupted;
  }
  cJSON_Delete(job);
  if (outcome_ == Outcome::None) {
    LogLine(log_, LogLevel::Warn).w().str("ota: dropping an unreadable update record");
    kv_->erase(kOtaJobKey);
  }
}

void Ota::online(OtaSink& sink) {
  // Reaching the broker and announcing is the proof the new image works; only now may it stay.
  if (firmware_->running_pending_verify()) {
    LogLine(log_, LogLevel::Info).w().str("ota: online with the new image; marking it valid");
    firmware_->mark_running_valid();
  }
  if (outcome_ == Outcome::None) return;
  OtaStatus status = {outcome_id_, OtaState::Success, -1, outcome_version_, nullptr, nullptr};
  if (outcome_ == Outcome::RolledBack) {
    status.state = OtaState::Failed;
    status.error = "rolled_back";
    status.msg = "the new image did not come online; the previous one runs again";
  } else if (outcome_ == Outcome::Interrupted) {
    status.state = OtaState::Failed;
    status.error = "download_failed";
    status.msg = "interrupted by a restart";
  }
  outcome_ = Outcome::None;
  sink.ota_report(status);
  kv_->erase(kOtaJobKey);
}

void Ota::start(const OtaRequest& request, OtaSink& sink) {
  if (busy()) return;
  job_ = request;
  OtaStatus status = {job_.id, OtaState::Rejected, -1, job_.version, nullptr, nullptr};
  if (text::equal(firmware_->running_version(), job_.version)) {
    status.error = "same_version";
    status.msg = "this version is already running";
    sink.ota_report(status);
    return;
  }
  if (!firmware_->begin(job_.size, job_.version)) {
    status.error = "too_large";
    status.msg = "no firmware slot holds an image of this size";
    sink.ota_report(status);
    return;
  }
  slot_open_ = true;
  // Recorded before the first byte: a power cut mid-download is then reported by the next boot.
  if (!save_job(kPhaseDownloading)) {
    fail(sink, "write_failed", "the update could not be recorded in the settings store");
    return;
  }
  LogLine(log_, LogLevel::Info).w().str("ota: downloading ").str(job_.version).str(" (").num(job_.size).str(" bytes)");
  phase_ = Phase::Opening;
  received_ = 0;
  hash_.reset();
  next_report_pct_ = 0;
  report_progress(sink);
}

void Ota::report_progress(OtaSink& sink) {
  int pct = static_cast<int>(static_cast<uint64_t>(received_) * 100 / job_.size);
  if (pct < next_report_pct_) return;
  OtaStatus status = {job_.id, OtaState::Downloading, pct, job_.version, nullptr, nullptr};
  sink.ota_report(status);
  // The next report at the next multiple of 10 %.
  next_report_pct_ = (pct / 10 + 1) * 10;
}

void Ota::fail(OtaSink& sink, const char* error, const char* msg) {
  LogLine(log_, LogLevel::Error).w().str("ota: failed: ").str(error).str(": ").str(msg);
  if (http_open_) http_->get_close();
  http_open_ = false;
  if (slot_open_) firmware_->abort();
  slot_open_ = false;
  phase_ = Phase::Idle;
  kv_->erase(kOtaJobKey);
  OtaStatus status = {job_.id, OtaState::Failed, -1, job_.version, error, msg};
  sink.ota_report(status);
}

void Ota::tick(OtaSink& sink) {
  if (phase_ == Phase::Opening) {
    int status = 0;
    int64_t length = -1;
    if (!http_->get_open(job_.url, &status, &length)) {
      fail(sink, "download_failed", "no answer from the update server");
      return;
    }
    http_open_ = true;
    if (status != 200) {
      char msg[48];
      text::Writer(msg, sizeof msg).str("the update server answered HTTP ").num(status);
      fail(sink, "download_failed", msg);
      return;
    }
    // A server that announces another length is serving another file: no need to fetch it to know.
    if (length >= 0 && length != static_cast<int64_t>(job_.size)) {
      fail(sink, "size_mismatch", "the server announces another size than the command");
      return;
    }
    phase_ = Phase::Reading;
    return;
  }
  if (phase_ != Phase::Reading) return;
  int n = http_->get_read(chunk_, sizeof chunk_);
  if (n < 0) {
    fail(sink, "download_failed", "the download broke off");
    return;
  }
  if (n == 0) {
    if (received_ != job_.size) {
      fail(sink, "size_mismatch", "the image is shorter than its announced size");
      return;
    }
    verify_and_install(sink);
    return;
  }
  if (static_cast<uint64_t>(received_) + static_cast<uint64_t>(n) > job_.size) {
    fail(sink, "size_mismatch", "the image is longer than its announced size");
    return;
  }
  if (!firmware_->write(chunk_, static_cast<size_t>(n))) {
    fail(sink, "write_failed", "the flash refused the image");
    return;
  }
  hash_.update(chunk_, static_cast<size_t>(n));
  received_ += static_cast<uint32_t>(n);
  report_progress(sink);
}

void Ota::verify_and_install(OtaSink& sink) {
  http_->get_close();
  http_open_ = false;
  OtaStatus status = {job_.id, OtaState::Verifying, -1, job_.version, nullptr, nullptr};
  sink.ota_report(status);
  uint8_t digest[kSha256Bytes];
  hash_.finish(digest);
  char hex[2 * kSha256Bytes + 1];
  text::to_hex(digest, sizeof digest, hex);
  if (!text::equal(hex, job_.sha256)) {
    fail(sink, "sha256_mismatch", "image sha256 does not match");
    return;
  }
  slot_open_ = false;
  if (!firmware_->finish()) {
    fail(sink, "write_failed", "the firmware slot refused the image");
    return;
  }
  if (!save_job(kPhaseInstalled)) {
    // The image boots anyway; only its outcome will go unreported.
    LogLine(log_, LogLevel::Warn).w().str("ota: could not record the installed update");
  }
  phase_ = Phase::Restarting;
  status.state = OtaState::Rebooting;
  sink.ota_report(status);
  LogLine(log_, LogLevel::Info).w().str("ota: ").str(job_.version).str(" installed; restarting");
  sink.ota_restart();
}

void Ota::cancel() {
  if (phase_ == Phase::Idle || phase_ == Phase::Restarting) return;
  if (http_open_) http_->get_close();
  http_open_ = false;
  if (slot_open_) firmware_->abort();
  slot_open_ = false;
  phase_ = Phase::Idle;
}

}  // namespace hearth
