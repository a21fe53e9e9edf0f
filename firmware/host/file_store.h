// KeyValueStore for the host build: one file per key in <state-dir>/kv/, the file's bytes being the value.
// A power cut must not leave half a password behind, so every value is written to a temporary file and renamed
// over the old one, as NVS guarantees on the board.
#pragma once

#include <stddef.h>

#include "ports.h"
#include "stderr_log.h"

namespace hearth_host {

// Creates dir (and missing parents) with the given mode. True when it exists afterwards.
bool make_dirs(const char* dir, unsigned mode);
// Writes data to path through path.tmp + fsync + rename + fsync of the directory. False (errno set) on failure.
bool write_file_atomic(const char* path, const void* data, size_t len);
// Reads at most cap bytes of path. Returns the length, -1 when the file is missing or unreadable, -2 when it is
// longer than cap.
long read_file(const char* path, void* buf, size_t cap);

class FileStore final : public hearth::KeyValueStore {
 public:
  explicit FileStore(StderrLog* log) : log_(log) {}
  // <dir> is created 0700: the store holds the node's MQTT password.
  bool open(const char* dir);

  int get(const char* key, void* buf, size_t cap) override;
  bool set(const char* key, const void* data, size_t len) override;
  bool erase(const char* key) override;

 private:
  // Keys are [a-z0-9_]{1,64}: they become file names, so nothing may climb out of the folder.
  static bool valid_key(const char* key);
  bool path_for(const char* key, char* out, size_t cap) const;

  StderrLog* log_;
  char dir_[512] = {};
};

}  // namespace hearth_host
