#include "sim_firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_store.h"

namespace hearth_host {

namespace {

void copy_text(char* dst, size_t cap, const char* src) { snprintf(dst, cap, "%s", src ? src : ""); }

}  // namespace

SimFirmware::SimFirmware(StderrLog* log, const char* factory_version, size_t max_image_bytes)
    : log_(log), max_image_bytes_(max_image_bytes) {
  copy_text(factory_version_, sizeof factory_version_, factory_version);
}

SimFirmware::~SimFirmware() { close_next(); }

void SimFirmware::close_next() {
  if (next_fd_ >= 0) {
    close(next_fd_);
    next_fd_ = -1;
  }
}

bool SimFirmware::load_state() {
  state_ = SlotState{};
  copy_text(state_.factory, sizeof state_.factory, factory_version_);
  char path[600];
  snprintf(path, sizeof path, "%s/slots", dir_);
  char text[1024];
  long n = read_file(path, text, sizeof text - 1);
  if (n == -1 && errno == ENOENT) return true;  // a board fresh from the factory
  if (n < 0) {
    log_->printf(hearth::LogLevel::Error, "fw: cannot read %s", path);
    return false;
  }
  text[n] = '\0';
  for (char* line = strtok(text, "\n"); line != nullptr; line = strtok(nullptr, "\n")) {
    char* eq = strchr(line, '=');
    if (eq == nullptr) continue;
    *eq = '\0';
    const char* value = eq + 1;
    if (strcmp(line, "factory") == 0) copy_text(state_.factory, sizeof state_.factory, value);
    else if (strcmp(line, "running") == 0) copy_text(state_.running, sizeof state_.running, value);
    else if (strcmp(line, "previous") == 0) copy_text(state_.previous, sizeof state_.previous, value);
    else if (strcmp(line, "next") == 0) copy_text(state_.next, sizeof state_.next, value);
    else if (strcmp(line, "pending") == 0) state_.pending = strcmp(value, "1") == 0;
    else if (strcmp(line, "broken") == 0) state_.broken = strcmp(value, "1") == 0;
    else if (strcmp(line, "next_broken") == 0) state_.next_broken = strcmp(value, "1") == 0;
  }
  return true;
}

bool SimFirmware::save_state() {
  char path[600];
  snprintf(path, sizeof path, "%s/slots", dir_);
  char text[512];
  int n = snprintf(text, sizeof text,
                   "factory=%s\nrunning=%s\nprevious=%s\nnext=%s\npending=%d\nbroken=%d\nnext_broken=%d\n",
                   state_.factory, state_.running, state_.previous, state_.next, state_.pending ? 1 : 0,
                   state_.broken ? 1 : 0, state_.next_broken ? 1 : 0);
  if (n < 0 || static_cast<size_t>(n) >= sizeof text || !write_file_atomic(path, text, static_cast<size_t>(n))) {
    log_->printf(hearth::LogLevel::Error, "fw: cannot write %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

bool SimFirmware::boot(const char* dir) {
  int n = snprintf(dir_, sizeof dir_, "%s", dir);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof dir_ - 80) {
    log_->printf(hearth::LogLevel::Error, "fw: folder name too long: %s", dir);
    return false;
  }
  if (!make_dirs(dir_, 0700)) {
    log_->printf(hearth::LogLevel::Error, "fw: cannot create %s: %s", dir_, strerror(errno));
    return false;
  }
  if (!load_state()) return false;

  char next_path[600], running_path[600];
  snprintf(next_path, sizeof next_path, "%s/next.bin", dir_);
  snprintf(running_path, sizeof running_path, "%s/running.bin", dir_);

  // Another --fw-version than the one the slots were used with stands for a board flashed by hand (over USB):
  // that replaces whatever OTA had installed, pending or not.
  if (strcmp(state_.factory, factory_version_) != 0) {
    log_->printf(hearth::LogLevel::Info, "fw: image %s flashed over %s: the OTA slots start over", factory_version_,
                 state_.factory);
    state_ = SlotState{};
    copy_text(state_.factory, sizeof state_.factory, factory_version_);
    unlink(next_path);
    unlink(running_path);
  }

  if (state_.next[0] != '\0') {
    // An image was chosen for this boot. If the one running before was itself unconfirmed, a rollback from the
    // new image must go back past it, to the last image that was valid.
    char last_valid[kVersionCap];
    copy_text(last_valid, sizeof last_valid, state_.pending ? state_.previous : running_version());
    copy_text(state_.previous, sizeof state_.previous, last_valid);
    copy_text(state_.running, sizeof state_.running, state_.next);
    state_.next[0] = '\0';
    state_.pending = true;
    state_.broken = state_.next_broken;
    state_.next_broken = false;
    if (rename(next_path, running_path) != 0) unlink(next_path);
    log_->printf(hearth::LogLevel::Info, "fw: bootloader: booting the new image %s, pending verify (rollback to %s)",
                 state_.running, state_.previous);
  } else if (state_.pending) {
    // The new image restarted before it marked itself valid: the bootloader goes back to the previous one.
    log_->printf(hearth::LogLevel::Warn,
                 "fw: bootloader: image %s restarted before it was marked valid: rolling back to %s", state_.running,
                 state_.previous);
    copy_text(state_.running, sizeof state_.running, state_.previous);
    state_.previous[0] = '\0';
    state_.pending = false;
    state_.broken = false;
    unlink(running_path);
  }
  if (!save_state()) return false;
  if (broken_image_running()) {
    log_->printf(hearth::LogLevel::Warn, "fw: image %s is marked %s: it will not reach the broker", state_.running,
                 kBrokenImageMarker);
  }
  return true;
}

const char* SimFirmware::running_version() {
  return state_.running[0] != '\0' ? state_.running : factory_version_;
}

bool SimFirmware::begin(size_t image_size, const char* version) {
  close_next();
  if (image_size > max_image_bytes_) {
    log_->printf(hearth::LogLevel::Warn, "fw: an image of %zu bytes does not fit the %zu-byte slot", image_size,
                 max_image_bytes_);
    return false;
  }
  char path[600];
  snprintf(path, sizeof path, "%s/next.bin", dir_);
  next_fd_ = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (next_fd_ < 0) {
    log_->printf(hearth::LogLevel::Error, "fw: cannot open %s: %s", path, strerror(errno));
    return false;
  }
  // A half-written slot must not stay chosen for the next boot.
  if (state_.next[0] != '\0') {
    state_.next[0] = '\0';
    state_.next_broken = false;
    save_state();
  }
  copy_text(next_version_, sizeof next_version_, version);
  expected_ = image_size;
  written_ = 0;
  marker_seen_ = false;
  tail_len_ = 0;
  log_->printf(hearth::LogLevel::Info, "fw: writing image %s (%zu bytes) to the inactive slot", next_version_,
               image_size);
  return true;
}

void SimFirmware::scan_for_marker(const uint8_t* data, size_t len) {
  if (marker_seen_ || len == 0) return;
  // A marker split between the previous write and this one: join the kept tail with the start of this chunk.
  uint8_t joint[2 * kMarkerLen];
  size_t head = len < kMarkerLen - 1 ? len : kMarkerLen - 1;
  memcpy(joint, tail_, tail_len_);
  memcpy(joint + tail_len_, data, head);
  if (memmem(joint, tail_len_ + head, kBrokenImageMarker, kMarkerLen) != nullptr ||
      memmem(data, len, kBrokenImageMarker, kMarkerLen) != nullptr) {
    marker_seen_ = true;
    return;
  }
  // Keep the last kMarkerLen - 1 bytes of everything written so far.
  size_t keep = kMarkerLen - 1;
  if (len >= keep) {
    memcpy(tail_, data + len - keep, keep);
    tail_len_ = keep;
  } else {
    size_t total = tail_len_ + len;
    size_t drop = total > keep ? total - keep : 0;
    memmove(tail_, tail_ + drop, tail_len_ - drop);
    memcpy(tail_ + tail_len_ - drop, data, len);
    tail_len_ = total - drop;
  }
}

bool SimFirmware::write(const uint8_t* data, size_t len) {
  if (next_fd_ < 0) return false;
  if (len > max_image_bytes_ - written_) {
    log_->printf(hearth::LogLevel::Warn, "fw: image larger than the %zu-byte slot", max_image_bytes_);
    return false;
  }
  scan_for_marker(data, len);
  const uint8_t* p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = ::write(next_fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      log_->printf(hearth::LogLevel::Error, "fw: writing the slot failed: %s", strerror(errno));
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  written_ += len;
  return true;
}

bool SimFirmware::finish() {
  if (next_fd_ < 0) return false;
  bool ok = fsync(next_fd_) == 0;
  close_next();
  if (!ok) {
    log_->printf(hearth::LogLevel::Error, "fw: syncing the slot failed: %s", strerror(errno));
    return false;
  }
  // The bootloader would refuse an image that is not the size it was told; the core checks this first.
  if (written_ != expected_) {
    log_->printf(hearth::LogLevel::Error, "fw: image has %zu bytes, %zu announced", written_, expected_);
    return false;
  }
  copy_text(state_.next, sizeof state_.next, next_version_);
  state_.next_broken = marker_seen_;
  if (!save_state()) return false;
  log_->printf(hearth::LogLevel::Info, "fw: image %s chosen for the next boot%s", state_.next,
               marker_seen_ ? " (it carries the broken-image marker)" : "");
  return true;
}

void SimFirmware::abort() {
  close_next();
  char path[600];
  snprintf(path, sizeof path, "%s/next.bin", dir_);
  unlink(path);
  written_ = 0;
  log_->printf(hearth::LogLevel::Info, "fw: image %s discarded", next_version_);
}

void SimFirmware::mark_running_valid() {
  if (!state_.pending) return;
  state_.pending = false;
  state_.broken = false;
  state_.previous[0] = '\0';
  save_state();
  log_->printf(hearth::LogLevel::Info, "fw: image %s marked valid", running_version());
}

}  // namespace hearth_host
