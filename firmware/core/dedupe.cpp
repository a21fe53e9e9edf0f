#include "dedupe.h"

#include "text.h"

namespace hearth {

bool Dedupe::contains(const char* id) const {
  if (id == nullptr || id[0] == '\0') return false;
  for (int i = 0; i < count_; ++i) {
    if (text::equal(ids_[i], id)) return true;
  }
  return false;
}

void Dedupe::remember(const char* id) {
  if (id == nullptr || id[0] == '\0') return;
  if (!text::copy(ids_[next_], sizeof ids_[next_], id)) return;
  next_ = (next_ + 1) % kWindow;
  if (count_ < kWindow) ++count_;
}

}  // namespace hearth
