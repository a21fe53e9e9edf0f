#include "topics.h"

#include <string.h>

#include "text.h"

namespace hearth {

bool Topics::init(const char* prefix, const char* node_id) {
  size_t n = text::bounded_length(prefix, kPrefixCap - 1);
  if (n == 0 || n > kPrefixCap - 1) return false;
  if (prefix[0] == '/' || prefix[n - 1] == '/') return false;
  for (size_t i = 0; i < n; ++i) {
    if (prefix[i] == '+' || prefix[i] == '#') return false;
  }
  return text::copy(prefix_, sizeof prefix_, prefix) && text::copy(node_, sizeof node_, node_id);
}

bool Topics::build(Topic topic, const char* dev, char* out, size_t cap) const {
  if (cap > kTopicCap) cap = kTopicCap;
  text::Writer w(out, cap);
  w.str(prefix_).chr('/');
  if (topic == Topic::BridgeStatus) {
    w.str("bridge/status");
    return !w.truncated();
  }
  w.str(node_).chr('/');
  switch (topic) {
    case Topic::Status: w.str("status"); break;
    case Topic::Config: w.str("config"); break;
    case Topic::State: w.str("d/").str(dev).str("/state"); break;
    case Topic::Command: w.str("cmd"); break;
    case Topic::Response: w.str("cmd/res"); break;
    case Topic::Event: w.str("event"); break;
    case Topic::Telemetry: w.str("telemetry"); break;
    case Topic::OtaStatus: w.str("ota/status"); break;
    case Topic::BridgeStatus: break;
  }
  return !w.truncated();
}

bool Topics::is(Topic topic, const char* candidate) const {
  char expected[kTopicCap];
  if (candidate == nullptr || !build(topic, nullptr, expected, sizeof expected)) return false;
  return strcmp(expected, candidate) == 0;
}

size_t Topics::state_topic_length(size_t dev_len) const {
  return strlen(prefix_) + 1 + strlen(node_) + strlen("/d/") + dev_len + strlen("/state");
}

}  // namespace hearth
