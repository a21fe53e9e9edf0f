#include "stderr_log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace hearth_host {

const char* log_level_name(hearth::LogLevel level) {
  switch (level) {
    case hearth::LogLevel::Error:
      return "error";
    case hearth::LogLevel::Warn:
      return "warn";
    case hearth::LogLevel::Info:
      return "info";
    case hearth::LogLevel::Debug:
      return "debug";
  }
  return "info";
}

bool parse_log_level(const char* text, hearth::LogLevel* out) {
  static const hearth::LogLevel kLevels[] = {hearth::LogLevel::Error, hearth::LogLevel::Warn, hearth::LogLevel::Info,
                                             hearth::LogLevel::Debug};
  for (hearth::LogLevel level : kLevels) {
    if (strcmp(text, log_level_name(level)) == 0) {
      *out = level;
      return true;
    }
  }
  return false;
}

void StderrLog::set_node_id(const char* node_id) {
  snprintf(node_id_, sizeof node_id_, "%s", node_id ? node_id : "");
}

void StderrLog::write(hearth::LogLevel level, const char* message) {
  if (!enabled(level)) return;
  char line[1024];
  int n;
  if (node_id_[0] != '\0') {
    n = snprintf(line, sizeof line, "hearth-node[%s] %s: ", node_id_, log_level_name(level));
  } else {
    n = snprintf(line, sizeof line, "hearth-node %s: ", log_level_name(level));
  }
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
  // Copy the message, turning control characters (a newline in a payload, say) into spaces: one message, one line.
  for (const char* p = message ? message : ""; *p != '\0' && len < sizeof line - 2; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    line[len++] = (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  }
  line[len++] = '\n';
  // One write() per line, so that lines from several nodes sharing a terminal or a pipe do not interleave.
  const char* out = line;
  while (len > 0) {
    ssize_t w = ::write(STDERR_FILENO, out, len);
    if (w <= 0) break;
    out += w;
    len -= static_cast<size_t>(w);
  }
}

void StderrLog::vprintf(hearth::LogLevel level, const char* format, va_list args) {
  if (!enabled(level)) return;
  char message[900];
  vsnprintf(message, sizeof message, format, args);
  write(level, message);
}

void StderrLog::printf(hearth::LogLevel level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vprintf(level, format, args);
  va_end(args);
}

}  // namespace hearth_host
