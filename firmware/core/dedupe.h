// The ids of the last commands the node executed (protocol §11). A retry of a command that already ran is
// answered `duplicate` instead of running twice: the bridge re-sends with the same id when an answer is late.
#pragma once

#include <stddef.h>

namespace hearth {

constexpr size_t kCommandIdChars = 32;

class Dedupe {
 public:
  static constexpr int kWindow = 8;

  bool contains(const char* id) const;
  // Only ids of executed commands (ok, accepted) come here; the oldest is dropped past kWindow.
  void remember(const char* id);

 private:
  char ids_[kWindow][kCommandIdChars + 1] = {};
  int next_ = 0;
  int count_ = 0;
};

}  // namespace hearth
