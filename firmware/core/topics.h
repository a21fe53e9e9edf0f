// Topic names (protocol §4). Built on demand into a caller's buffer: a node has few topics but the state
// topics differ per device, and keeping them all would cost a kilobyte of RAM.
#pragma once

#include <stddef.h>

namespace hearth {

constexpr size_t kMaxTopicBytes = 128;
constexpr size_t kTopicCap = kMaxTopicBytes + 1;
constexpr size_t kPrefixCap = 64;
constexpr size_t kNodeIdCap = 33;
constexpr const char* kDefaultTopicPrefix = "hearth/v1";

enum class Topic : unsigned char {
  Status,        // <prefix>/<node>/status
  Config,        // <prefix>/<node>/config
  State,         // <prefix>/<node>/d/<dev>/state
  Command,       // <prefix>/<node>/cmd
  Response,      // <prefix>/<node>/cmd/res
  Event,         // <prefix>/<node>/event
  Telemetry,     // <prefix>/<node>/telemetry
  OtaStatus,     // <prefix>/<node>/ota/status
  BridgeStatus,  // <prefix>/bridge/status
};

class Topics {
 public:
  // False for a prefix that is empty, too long, holds an MQTT wildcard or starts or ends with '/'.
  bool init(const char* prefix, const char* node_id);
  // False when the topic would not fit cap or the 128-byte limit (dev is only used for State).
  bool build(Topic topic, const char* dev, char* out, size_t cap) const;
  bool is(Topic topic, const char* candidate) const;
  // The length of the longest state topic for a device id of dev_len characters.
  size_t state_topic_length(size_t dev_len) const;
  const char* prefix() const { return prefix_; }

 private:
  char prefix_[kPrefixCap] = {};
  char node_[kNodeIdCap] = {};
};

}  // namespace hearth
