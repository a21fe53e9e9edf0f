// MQTT reconnect delays (protocol §16): exponential steps from 1 s to 60 s with "equal jitter", so that a
// house full of boards that lost the broker together does not come back in one burst.
#pragma once

#include <stdint.h>

#include "ports.h"

namespace hearth {

class Backoff {
 public:
  static constexpr uint32_t kFirstStepMs = 1000;
  static constexpr uint32_t kLongestStepMs = 60000;

  // After a successful CONNACK.
  void reset() { step_ms_ = kFirstStepMs; }
  // The wait before the next attempt after a failure: half the current step plus a random part of up to the
  // other half. The step then doubles, up to the longest.
  uint32_t after_failure(Random& random);
  // A refused CONNECT: the same credentials will not start working by themselves, so wait the longest step,
  // and keep the longest step for the failures that follow.
  uint32_t after_refusal();
  uint32_t step_ms() const { return step_ms_; }

 private:
  uint32_t step_ms_ = kFirstStepMs;
};

}  // namespace hearth
