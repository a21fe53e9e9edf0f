// The MQTT side of the node (protocol §3, §16): connect with the will, subscribe, and reconnect with backoff.
// Wi-Fi is a separate state machine that only tells this one when the network comes and goes. What happens
// once the link is up (the announcement) is the node's business.
#pragma once

#include <stdint.h>

#include "backoff.h"
#include "ports.h"

namespace hearth {

struct ConnectionConfig {
  const char* uri;
  const char* client_id;
  const char* username;
  const char* password;
  const char* ca_pem;
  uint16_t keepalive_s;
  const char* will_topic;    // <prefix>/<node>/status
  const char* cmd_topic;     // <prefix>/<node>/cmd
  const char* bridge_topic;  // <prefix>/bridge/status
};

enum class Link : uint8_t {
  Idle,               // before start()
  WaitingForNetwork,
  Backoff,
  Connecting,
  Subscribing,
  Up,                 // both SUBACKs in
  Stopped,
};

class Connection {
 public:
  // The strings must outlive the connection.
  void init(Mqtt* mqtt, Random* random, Log* log, const ConnectionConfig& config);
  // Connects at once when the network is up, else waits for it.
  void start(uint64_t now_ms);
  void network_up(uint64_t now_ms);
  void network_down();
  void connected(uint64_t now_ms);
  void refused(int code, uint64_t now_ms);
  // True when the link was up or on its way up; the caller then drops what it had going on it.
  bool disconnected(uint64_t now_ms);
  // True when this SUBACK was the last one missing: the link is up.
  bool subscribed(int message_id);
  void tick(uint64_t now_ms);
  // No more attempts; MQTT itself is left to the caller (offline, DISCONNECT).
  void stop() { link_ = Link::Stopped; }

  Link link() const { return link_; }
  // The broker has a session with us: publishing makes sense.
  bool is_connected() const { return link_ == Link::Subscribing || link_ == Link::Up; }
  bool connecting() const { return link_ == Link::Connecting; }
  uint32_t last_wait_ms() const { return last_wait_ms_; }
  uint64_t next_attempt_ms() const { return next_attempt_ms_; }

 private:
  void attempt(uint64_t now_ms);
  void wait(uint64_t now_ms, uint32_t wait_ms);

  Mqtt* mqtt_ = nullptr;
  Random* random_ = nullptr;
  Log* log_ = nullptr;
  ConnectionConfig config_ = {};
  Backoff backoff_;
  Link link_ = Link::Idle;
  bool network_ = false;
  // A node's very first login may reach a broker that has not yet read the account a claim just made
  // (mosquitto reloads its password file on SIGHUP): that one refusal is retried after an ordinary step.
  bool may_retry_refusal_soon_ = true;
  int pending_subacks_[2] = {0, 0};
  uint32_t last_wait_ms_ = 0;
  uint64_t next_attempt_ms_ = 0;
};

}  // namespace hearth
