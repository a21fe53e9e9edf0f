#include "backoff.h"

namespace hearth {

uint32_t Backoff::after_failure(Random& random) {
  uint32_t half = step_ms_ / 2;
  uint32_t wait = half + random.next_u32() % (step_ms_ - half + 1);
  step_ms_ = step_ms_ >= kLongestStepMs / 2 ? kLongestStepMs : step_ms_ * 2;
  return wait;
}

uint32_t Backoff::after_refusal() {
  step_ms_ = kLongestStepMs;
  return kLongestStepMs;
}

}  // namespace hearth
