// Claiming: a new board trades a one-time claim token for its MQTT credentials (POST <bridge>/api/v1/claim), and
// keeps them in the key-value store, where Node::begin() finds them.
#pragma once

#include "ports.h"

namespace hearth {

struct Credentials {
  char mqtt_uri[160];
  char username[40];
  char password[80];
  char topic_prefix[64];
};

enum class ClaimOutcome : uint8_t {
  Ok,           // credentials stored
  Refused,      // the bridge refused the token (unknown, used or expired): ask the user for a new one
  Unreachable,  // no HTTP response
  BadResponse,  // an answer the node cannot use
  StorageFailed,
};

// `message` receives a one-line explanation for the log or the provisioning app (may be nullptr).
ClaimOutcome claim_node(const Ports& ports, const char* bridge_url, const char* node_id, const char* claim_token,
                        char* message, size_t message_cap);

// Where claim_node() keeps the credentials in the key-value store: one record, a JSON object
// {"mqtt_uri","username","password","topic_prefix"}, written in one set() so it is never half-written.
constexpr const char* kCredentialsKey = "hearth_cred";

// The credentials a claim stored. False when none are stored.
bool load_credentials(KeyValueStore& kv, Credentials* out);
bool forget_credentials(KeyValueStore& kv);

}  // namespace hearth
