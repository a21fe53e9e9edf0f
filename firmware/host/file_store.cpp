#include "file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth_host {

bool make_dirs(const char* dir, unsigned mode) {
  char path[512];
  int n = snprintf(path, sizeof path, "%s", dir);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof path) {
    errno = ENAMETOOLONG;
    return false;
  }
  // Create each parent in turn; the ones that exist already are left as they are.
  for (char* p = path + 1; *p != '\0'; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, mode) != 0 && errno != EEXIST) return false;
    *p = '/';
  }
  if (mkdir(path, mode) != 0 && errno != EEXIST) return false;
  struct stat st;
  if (stat(path, &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return false;
  }
  return true;
}

namespace {

bool write_all(int fd, const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// The rename is only durable once the directory entry is on disk too.
void sync_parent_dir(const char* path) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", path);
  char* slash = strrchr(dir, '/');
  if (slash == nullptr) {
    snprintf(dir, sizeof dir, ".");
  } else if (slash == dir) {
    dir[1] = '\0';
  } else {
    *slash = '\0';
  }
  int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

}  // namespace

bool write_file_atomic(const char* path, const void* data, size_t len) {
  char tmp[600];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof tmp) {
    errno = ENAMETOOLONG;
    return false;
  }
  int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = write_all(fd, data, len) && fsync(fd) == 0;
  int saved = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    unlink(tmp);
    errno = saved;
    return false;
  }
  sync_parent_dir(path);
  return true;
}

long read_file(const char* path, void* buf, size_t cap) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  uint8_t* p = static_cast<uint8_t*>(buf);
  size_t got = 0;
  long result = -1;
  for (;;) {
    // Read into the caller's buffer while it has room, then one probe byte to tell "exactly cap" from "longer".
    uint8_t probe;
    uint8_t* dst = got < cap ? p + got : &probe;
    size_t want = got < cap ? cap - got : 1;
    ssize_t n = ::read(fd, dst, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) {
      result = static_cast<long>(got);
      break;
    }
    if (got >= cap) {
      result = -2;
      break;
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
  return result;
}

bool FileStore::open(const char* dir) {
  int n = snprintf(dir_, sizeof dir_, "%s", dir);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof dir_ - 80) {
    log_->printf(hearth::LogLevel::Error, "store: folder name too long: %s", dir);
    return false;
  }
  if (!make_dirs(dir_, 0700)) {
    log_->printf(hearth::LogLevel::Error, "store: cannot create %s: %s", dir_, strerror(errno));
    return false;
  }
  return true;
}

bool FileStore::valid_key(const char* key) {
  if (key == nullptr) return false;
  size_t len = 0;
  for (const char* p = key; *p != '\0'; ++p, ++len) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok || len >= 64) return false;
  }
  return len > 0;
}

bool FileStore::path_for(const char* key, char* out, size_t cap) const {
  if (!valid_key(key)) {
    log_->printf(hearth::LogLevel::Warn, "store: invalid key \"%.64s\"", key ? key : "");
    return false;
  }
  int n = snprintf(out, cap, "%s/%s", dir_, key);
  return n > 0 && static_cast<size_t>(n) < cap;
}

int FileStore::get(const char* key, void* buf, size_t cap) {
  char path[600];
  if (!path_for(key, path, sizeof path)) return -1;
  long n = read_file(path, buf, cap);
  if (n == -2) {
    log_->printf(hearth::LogLevel::Warn, "store: value of %s is longer than %zu bytes", key, cap);
    return -1;
  }
  if (n < 0 && errno != ENOENT) {
    log_->printf(hearth::LogLevel::Warn, "store: cannot read %s: %s", path, strerror(errno));
  }
  return n < 0 ? -1 : static_cast<int>(n);
}

bool FileStore::set(const char* key, const void* data, size_t len) {
  char path[600];
  if (!path_for(key, path, sizeof path)) return false;
  if (!write_file_atomic(path, data, len)) {
    log_->printf(hearth::LogLevel::Error, "store: cannot write %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

bool FileStore::erase(const char* key) {
  char path[600];
  if (!path_for(key, path, sizeof path)) return false;
  if (unlink(path) != 0 && errno != ENOENT) {
    log_->printf(hearth::LogLevel::Error, "store: cannot remove %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

}  // namespace hearth_host
