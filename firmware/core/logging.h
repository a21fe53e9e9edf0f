// One log line, built in a fixed buffer and handed to the Log port when the statement ends:
//   LogLine(log, LogLevel::Warn).w().str("mqtt: refused, code ").num(code);
#pragma once

#include "ports.h"
#include "text.h"

namespace hearth {

class LogLine {
 public:
  LogLine(Log* log, LogLevel level) : log_(log), level_(level), writer_(buf_, sizeof buf_) {}
  ~LogLine() {
    if (log_ != nullptr) log_->write(level_, buf_);
  }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  text::Writer& w() { return writer_; }

 private:
  Log* log_;
  LogLevel level_;
  char buf_[200];
  text::Writer writer_;
};

}  // namespace hearth
