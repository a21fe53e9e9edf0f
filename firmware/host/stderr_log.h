// Log port for the host build: one line per message on stderr, `hearth-node[<node-id>] <level>: <message>`.
// Tests and people read these lines, so a message never spans two lines.
#pragma once

#include <stdarg.h>

#include "ports.h"

namespace hearth_host {

class StderrLog final : public hearth::Log {
 public:
  StderrLog() = default;
  // The id in the prefix; until it is known (bad command line) the prefix is plain `hearth-node`.
  void set_node_id(const char* node_id);
  void set_level(hearth::LogLevel level) { level_ = level; }
  bool enabled(hearth::LogLevel level) const { return static_cast<int>(level) <= static_cast<int>(level_); }

  void write(hearth::LogLevel level, const char* message) override;
  // printf-style convenience for the host's own messages.
  void printf(hearth::LogLevel level, const char* format, ...) __attribute__((format(printf, 3, 4)));
  void vprintf(hearth::LogLevel level, const char* format, va_list args);

 private:
  char node_id_[40] = {};
  hearth::LogLevel level_ = hearth::LogLevel::Info;
};

const char* log_level_name(hearth::LogLevel level);
// Parses error|warn|info|debug. False for anything else.
bool parse_log_level(const char* text, hearth::LogLevel* out);

}  // namespace hearth_host
