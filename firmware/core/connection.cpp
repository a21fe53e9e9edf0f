#include "connection.h"

#include "logging.h"

namespace hearth {

void Connection::init(Mqtt* mqtt, Random* random, Log* log, const ConnectionConfig& config) {
  mqtt_ = mqtt;
  random_ = random;
  log_ = log;
  config_ = config;
}

void Connection::start(uint64_t now_ms) {
  if (link_ != Link::Idle) return;
  link_ = Link::WaitingForNetwork;
  if (network_) attempt(now_ms);
}

void Connection::network_up(uint64_t now_ms) {
  network_ = true;
  // The first attempt on a fresh network goes out at once: the backoff is for a broker that failed us.
  if (link_ == Link::WaitingForNetwork) attempt(now_ms);
}

void Connection::network_down() {
  network_ = false;
  if (link_ == Link::Idle || link_ == Link::Stopped) return;
  // No DISCONNECT: on a dead network it would not arrive, and on a live one it would make the broker drop
  // the will. The MQTT client's own events for the lost link are ignored from here on.
  link_ = Link::WaitingForNetwork;
  pending_subacks_[0] = pending_subacks_[1] = 0;
}

void Connection::attempt(uint64_t now_ms) {
  MqttConnectParams params = {};
  params.uri = config_.uri;
  params.client_id = config_.client_id;
  params.username = config_.username;
  params.password = config_.password;
  params.ca_pem = config_.ca_pem;
  params.keepalive_s = config_.keepalive_s;
  params.will = MqttWill{config_.will_topic, "offline", 1, true};
  LogLine(log_, LogLevel::Info).w().str("mqtt: connecting to ").str(config_.uri).str(" as ").str(config_.client_id);
  link_ = Link::Connecting;
  if (!mqtt_->connect(params)) {
    LogLine(log_, LogLevel::Warn).w().str("mqtt: the connection could not be started");
    wait(now_ms, backoff_.after_failure(*random_));
  }
}

void Connection::wait(uint64_t now_ms, uint32_t wait_ms) {
  link_ = Link::Backoff;
  last_wait_ms_ = wait_ms;
  next_attempt_ms_ = now_ms + wait_ms;
  LogLine(log_, LogLevel::Info).w().str("mqtt: next attempt in ").num(wait_ms).str(" ms");
}

void Connection::connected(uint64_t now_ms) {
  if (link_ != Link::Connecting) return;
  backoff_.reset();
  may_retry_refusal_soon_ = false;
  link_ = Link::Subscribing;
  pending_subacks_[0] = mqtt_->subscribe(config_.cmd_topic, 1);
  pending_subacks_[1] = mqtt_->subscribe(config_.bridge_topic, 1);
  if (pending_subacks_[0] <= 0 || pending_subacks_[1] <= 0) {
    // Without both subscriptions the node cannot be commanded: start over rather than announce half-deaf.
    LogLine(log_, LogLevel::Error).w().str("mqtt: could not subscribe; reconnecting");
    mqtt_->disconnect();
    pending_subacks_[0] = pending_subacks_[1] = 0;
    wait(now_ms, backoff_.after_failure(*random_));
    return;
  }
  LogLine(log_, LogLevel::Info).w().str("mqtt: connected");
}

void Connection::refused(int code, uint64_t now_ms) {
  if (link_ != Link::Connecting) return;
  LogLine(log_, LogLevel::Error)
      .w()
      .str("mqtt: the broker refused the connection (code ")
      .num(code)
      .str(code == 4 || code == 5 ? ": check the node id and password)" : ")");
  if (may_retry_refusal_soon_) {
    may_retry_refusal_soon_ = false;
    wait(now_ms, backoff_.after_failure(*random_));
    return;
  }
  wait(now_ms, backoff_.after_refusal());
}

bool Connection::disconnected(uint64_t now_ms) {
  if (link_ != Link::Connecting && link_ != Link::Subscribing && link_ != Link::Up) return false;
  LogLine(log_, LogLevel::Warn).w().str("mqtt: disconnected");
  pending_subacks_[0] = pending_subacks_[1] = 0;
  wait(now_ms, backoff_.after_failure(*random_));
  return true;
}

bool Connection::subscribed(int message_id) {
  if (link_ != Link::Subscribing || message_id <= 0) return false;
  for (int& pending : pending_subacks_) {
    if (pending == message_id) pending = 0;
  }
  if (pending_subacks_[0] != 0 || pending_subacks_[1] != 0) return false;
  link_ = Link::Up;
  return true;
}

void Connection::tick(uint64_t now_ms) {
  if (link_ == Link::Backoff && now_ms >= next_attempt_ms_) {
    if (network_) {
      attempt(now_ms);
    } else {
      link_ = Link::WaitingForNetwork;
    }
  }
}

}  // namespace hearth
