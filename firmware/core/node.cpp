// hearth::Node: the parts of the core put together. The connection state machine brings the link up, the
// announcer tells the bridge who the node is, the dispatcher answers commands, the devices drive the board,
// and the OTA job replaces the firmware. This file only routes events between them and publishes.
#include "node.h"

#include <string.h>

#include "announcer.h"
#include "claim.h"
#include "codec.h"
#include "connection.h"
#include "dedupe.h"
#include "devices.h"
#include "dispatcher.h"
#include "logging.h"
#include "ota.h"
#include "text.h"
#include "topics.h"

// Placement new, from <new> where the C++ library has one; the freestanding cross toolchains have none.
#if defined(__has_include)
#if __has_include(<new>)
#include <new>
#define HEARTH_HAVE_NEW_HEADER 1
#endif
#endif
#ifndef HEARTH_HAVE_NEW_HEADER
inline void* operator new(size_t, void* where) noexcept { return where; }
#endif

// How many nodes may exist at once. A board has one; the tests and a host simulating several boards define
// more. Each costs sizeof(NodeImpl) of static RAM (about 15 KB) and nothing of the heap.
#ifndef HEARTH_NODE_SLOTS
#define HEARTH_NODE_SLOTS 1
#endif

namespace hearth {

namespace {

constexpr uint16_t kDefaultKeepaliveS = 30;
constexpr uint32_t kDefaultTelemetryMs = 60000;
constexpr uint32_t kDefaultSensorMs = 10000;
constexpr uint32_t kDefaultConfirmMs = 300000;
// How long a restart waits for the PUBACK of its `offline` before it goes anyway.
constexpr uint32_t kOfflineAckWaitMs = 1000;

constexpr size_t kUriCap = sizeof(Credentials::mqtt_uri);
constexpr size_t kUsernameCap = sizeof(Credentials::username);
constexpr size_t kPasswordCap = sizeof(Credentials::password);

bool is_whitespace(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Plain-text status payloads; surrounding white space is ignored (protocol §18).
bool payload_is(const uint8_t* payload, size_t len, const char* word) {
  size_t start = 0;
  while (start < len && is_whitespace(payload[start])) ++start;
  while (len > start && is_whitespace(payload[len - 1])) --len;
  size_t n = strlen(word);
  return len - start == n && memcmp(payload + start, word, n) == 0;
}

}  // namespace

struct NodeImpl final : AnnounceSink, OtaSink {
  explicit NodeImpl(const Ports& p) : ports(p) { device_ports = DevicePorts{p.gpio, p.sensors}; }

  // ---- helpers ----
  uint64_t now() { return ports.clock->monotonic_ms(); }
  bool check_ports();
  bool copy_setting(char* dst, size_t cap, const char* value, const char* what);
  bool resolve_credentials(const NodeSettings& s);
  int publish(Topic topic, const char* dev, const char* payload, size_t len, int qos, bool retain);
  int publish_state(int index);
  void publish_telemetry();
  void handle_command(const uint8_t* payload, size_t len);
  void respond(const Outcome& outcome);
  void link_lost();
  void announced();
  void start_restart(const char* why);
  void finish_restart();
  bool online() const { return conn.link() == Link::Up && announced_on_link && !announcer.running(); }

  // ---- AnnounceSink ----
  int announce_config() override;
  int announce_state(int device_index) override;
  int announce_online() override;

  // ---- OtaSink ----
  void ota_report(const OtaStatus& status) override;
  void ota_restart() override { start_restart("firmware update installed"); }

  Ports ports;
  DevicePorts device_ports = {};
  Device devices[kMaxDevices];
  int device_count = 0;
  bool begun = false;
  bool stopped = false;

  char node_id[kNodeIdCap] = {};
  char uri[kUriCap] = {};
  char username[kUsernameCap] = {};
  char password[kPasswordCap] = {};
  const char* ca_pem = nullptr;
  char name[65] = {};
  char fw_version[33] = {};
  char fw_build[41] = {};
  char hw_model[65] = {};
  char chip[33] = {};
  char mac[33] = {};
  uint16_t keepalive_s = kDefaultKeepaliveS;
  uint32_t telemetry_ms = kDefaultTelemetryMs;
  uint32_t sensor_ms = kDefaultSensorMs;
  uint32_t confirm_ms = kDefaultConfirmMs;

  Topics topics;
  char will_topic[kTopicCap] = {};
  char cmd_topic[kTopicCap] = {};
  char bridge_topic[kTopicCap] = {};

  Connection conn;
  Announcer announcer;
  Dedupe dedupe;  // survives reconnects: a retry after a reconnect is still a duplicate
  Ota ota;

  bool announced_on_link = false;
  bool awaiting_confirm = false;  // a new image that has not been online yet
  uint64_t begin_ms = 0;
  uint64_t next_sensor_ms = 0;
  uint64_t next_telemetry_ms = 0;
  uint32_t seq = 0;

  bool restart_pending = false;
  bool restart_disconnect = false;
  int restart_mid = 0;
  uint64_t restart_deadline_ms = 0;

  Outcome outcome = {};
  char config_text[kConfigCap] = {};
  char out[kMessageCap] = {};
  char scratch[kMaxMessageBytes + 1] = {};
};

namespace {

alignas(NodeImpl) unsigned char g_slots[HEARTH_NODE_SLOTS][sizeof(NodeImpl)];
bool g_slot_used[HEARTH_NODE_SLOTS];

}  // namespace

// ---------------------------------------------------------------------------------------------------------

bool NodeImpl::check_ports() {
  const char* missing = nullptr;
  if (ports.clock == nullptr) missing = "clock";
  else if (ports.random == nullptr) missing = "random";
  else if (ports.mqtt == nullptr) missing = "mqtt";
  else if (ports.kv == nullptr) missing = "kv";
  else if (ports.http == nullptr) missing = "http";
  else if (ports.firmware == nullptr) missing = "firmware";
  else if (ports.platform == nullptr) missing = "platform";
  if (missing == nullptr) return true;
  LogLine(ports.log, LogLevel::Error).w().str("node: the ").str(missing).str(" port is missing");
  return false;
}

bool NodeImpl::copy_setting(char* dst, size_t cap, const char* value, const char* what) {
  if (text::copy(dst, cap, value)) return true;
  LogLine(ports.log, LogLevel::Error).w().str("node: ").str(what).str(" is longer than ").num(cap - 1).str(" characters");
  return false;
}

bool NodeImpl::resolve_credentials(const NodeSettings& s) {
  // What the settings leave out comes from a claim, if the board was claimed.
  Credentials claimed = {};
  bool have = false;
  if (s.mqtt_uri == nullptr || s.username == nullptr || s.password == nullptr || s.topic_prefix == nullptr) {
    have = load_credentials(*ports.kv, &claimed);
  }
  const char* u = s.mqtt_uri != nullptr ? s.mqtt_uri : (have ? claimed.mqtt_uri : nullptr);
  const char* p = s.password != nullptr ? s.password : (have ? claimed.password : nullptr);
  const char* user = s.username != nullptr ? s.username
                                           : (have && claimed.username[0] != '\0' ? claimed.username : node_id);
  const char* prefix = s.topic_prefix != nullptr ? s.topic_prefix : (have ? claimed.topic_prefix : kDefaultTopicPrefix);
  if (u == nullptr || u[0] == '\0') {
    LogLine(ports.log, LogLevel::Error).w().str("node: no MQTT broker: set mqtt_uri or claim the node first");
    return false;
  }
  if (p == nullptr || p[0] == '\0') {
    LogLine(ports.log, LogLevel::Error).w().str("node: no MQTT password: set password or claim the node first");
    return false;
  }
  if (!text::starts_with(u, "mqtt://") && !text::starts_with(u, "mqtts://")) {
    LogLine(ports.log, LogLevel::Error).w().str("node: mqtt_uri must start with mqtt:// or mqtts://, got ").str(u);
    return false;
  }
  if (!copy_setting(uri, sizeof uri, u, "mqtt_uri") || !copy_setting(username, sizeof username, user, "username") ||
      !copy_setting(password, sizeof password, p, "password")) {
    return false;
  }
  if (!topics.init(prefix, node_id)) {
    LogLine(ports.log, LogLevel::Error).w().str("node: unusable topic prefix \"").str(prefix).str("\"");
    return false;
  }
  return true;
}

int NodeImpl::publish(Topic topic, const char* dev, const char* payload, size_t len, int qos, bool retain) {
  char name[kTopicCap];
  if (!topics.build(topic, dev, name, sizeof name)) return -1;
  return ports.mqtt->publish(name, payload, len, qos, retain);
}

int NodeImpl::publish_state(int index) {
  if (!conn.is_connected()) return -1;  // the next announcement carries the full state
  Device& device = devices[index];
  uint32_t next = seq + 1;
  if (!encode_state(device, true, next, out, sizeof out)) {
    LogLine(ports.log, LogLevel::Error).w().str("node: the state of ").str(device.id()).str(" could not be encoded");
    return -1;
  }
  int mid = publish(Topic::State, device.id(), out, strlen(out), 1, true);
  if (mid >= 0) {
    seq = next;
    device.published(next);
  }
  return mid;
}

int NodeImpl::announce_config() {
  return publish(Topic::Config, nullptr, config_text, strlen(config_text), 1, true);
}

int NodeImpl::announce_state(int device_index) { return publish_state(device_index); }

int NodeImpl::announce_online() { return publish(Topic::Status, nullptr, "online", 6, 1, true); }

void NodeImpl::ota_report(const OtaStatus& status) {
  if (!conn.is_connected()) return;
  if (!encode_ota_status(status, out, sizeof out)) return;
  publish(Topic::OtaStatus, nullptr, out, strlen(out), 1, false);
}

void NodeImpl::publish_telemetry() {
  const char* ip = ports.platform->ip();
  TelemetryFields fields = {ports.platform->rssi(), ports.platform->free_heap(), now() / 1000, ip};
  if (!encode_telemetry(fields, out, sizeof out)) return;
  publish(Topic::Telemetry, nullptr, out, strlen(out), 0, false);
}

void NodeImpl::respond(const Outcome& o) {
  bool with_state = o.device >= 0 &&
                    (o.status == Status::Ok || o.status == Status::Accepted || o.status == Status::Duplicate);
  const Device* device = with_state ? &devices[o.device] : nullptr;
  ResponseFields fields = {};
  fields.id = o.has_id ? o.id : nullptr;
  fields.status = status_name(o.status);
  fields.dev = o.has_dev ? o.dev : nullptr;
  fields.state_of = device;
  fields.has_seq = device != nullptr && device->last_seq() > 0;
  fields.seq = device != nullptr ? device->last_seq() : 0;
  fields.msg = o.msg;
  if (!encode_response(fields, out, sizeof out)) {
    LogLine(ports.log, LogLevel::Error).w().str("node: a response could not be encoded");
    return;
  }
  publish(Topic::Response, nullptr, out, strlen(out), 1, false);
}

void NodeImpl::handle_command(const uint8_t* payload, size_t len) {
  DispatchContext context = {devices, device_count, &dedupe, ports.clock, &device_ports, ota.busy(), now(),
                             scratch, sizeof scratch};
  dispatch(payload, len, context, &outcome);
  if (outcome.status != Status::Ok && outcome.status != Status::Accepted) {
    LogLine(ports.log, LogLevel::Info)
        .w()
        .str("cmd ")
        .str(outcome.has_id ? outcome.id : "(no id)")
        .str(": ")
        .str(status_name(outcome.status))
        .str(outcome.msg[0] != '\0' ? ": " : "")
        .str(outcome.msg);
  }
  // The state first, then the answer that carries its seq (protocol §20).
  if (outcome.follow_up == FollowUp::PublishState && outcome.device >= 0) publish_state(outcome.device);
  respond(outcome);
  if (outcome.follow_up == FollowUp::Reboot) start_restart("reboot command");
  if (outcome.follow_up == FollowUp::StartOta) ota.start(outcome.ota, *this);
}

void NodeImpl::link_lost() {
  announcer.reset();
  announced_on_link = false;
}

void NodeImpl::announced() {
  if (!announced_on_link) {
    announced_on_link = true;
    next_telemetry_ms = now() + telemetry_ms;
    LogLine(ports.log, LogLevel::Info).w().str("node: ").str(node_id).str(" is online");
  }
  awaiting_confirm = false;
  ota.online(*this);
}

void NodeImpl::start_restart(const char* why) {
  if (restart_pending) return;
  LogLine(ports.log, LogLevel::Info).w().str("node: restarting (").str(why).str(")");
  restart_pending = true;
  stopped = true;
  bool connected = conn.is_connected();
  bool connecting = conn.connecting();
  conn.stop();
  announcer.reset();
  restart_disconnect = connected || connecting;
  if (connected) {
    // `offline` ourselves: the clean DISCONNECT that follows makes the broker drop the will.
    int mid = publish(Topic::Status, nullptr, "offline", 7, 1, true);
    if (mid > 0) {
      restart_mid = mid;
      restart_deadline_ms = now() + kOfflineAckWaitMs;
      return;
    }
  }
  finish_restart();
}

void NodeImpl::finish_restart() {
  if (restart_disconnect) ports.mqtt->disconnect();
  restart_disconnect = false;
  restart_pending = false;
  restart_mid = 0;
  ports.platform->restart();
}

// ---------------------------------------------------------------------------------------------------------

Node::Node(const Ports& ports) : impl_(nullptr) {
  for (int i = 0; i < HEARTH_NODE_SLOTS; ++i) {
    if (g_slot_used[i]) continue;
    g_slot_used[i] = true;
    impl_ = new (g_slots[i]) NodeImpl(ports);
    return;
  }
  LogLine(ports.log, LogLevel::Error).w().str("node: no free node slot (HEARTH_NODE_SLOTS is ").num(HEARTH_NODE_SLOTS).str(")");
}

Node::~Node() {
  if (impl_ == nullptr) return;
  ptrdiff_t slot = (reinterpret_cast<unsigned char*>(impl_) - g_slots[0]) / static_cast<ptrdiff_t>(sizeof(NodeImpl));
  impl_->~NodeImpl();
  g_slot_used[slot] = false;
}

bool Node::add_device(const DeviceSpec& spec) {
  if (impl_ == nullptr) return false;
  NodeImpl& n = *impl_;
  Log* log = n.ports.log;
  if (n.begun) {
    LogLine(log, LogLevel::Error).w().str("node: add devices before begin()");
    return false;
  }
  if (n.device_count >= kMaxDevices) {
    LogLine(log, LogLevel::Error).w().str("node: at most ").num(kMaxDevices).str(" devices; \"").str(spec.id).str("\" is one too many");
    return false;
  }
  for (int i = 0; i < n.device_count; ++i) {
    if (text::equal(n.devices[i].id(), spec.id)) {
      LogLine(log, LogLevel::Error).w().str("node: duplicate device id \"").str(spec.id).str("\"");
      return false;
    }
  }
  char why[160];
  if (!n.devices[n.device_count].configure(spec, why, sizeof why)) {
    LogLine(log, LogLevel::Error).w().str("node: ").str(why);
    return false;
  }
  ++n.device_count;
  return true;
}

bool Node::begin(const NodeSettings& s) {
  if (impl_ == nullptr) return false;
  NodeImpl& n = *impl_;
  Log* log = n.ports.log;
  if (n.begun) {
    LogLine(log, LogLevel::Error).w().str("node: begin() was already called");
    return false;
  }
  if (!n.check_ports()) return false;
  if (!text::is_node_id(s.node_id)) {
    LogLine(log, LogLevel::Error)
        .w()
        .str("node: the node id \"")
        .str(s.node_id)
        .str("\" must be 3-32 characters of a-z, 0-9 and -, starting with a letter or digit, and not \"bridge\"");
    return false;
  }
  text::copy(n.node_id, sizeof n.node_id, s.node_id);
  const char* version = s.fw_version != nullptr ? s.fw_version : n.ports.firmware->running_version();
  if (!n.copy_setting(n.name, sizeof n.name, s.name, "name") ||
      !n.copy_setting(n.fw_version, sizeof n.fw_version, version, "fw_version") ||
      !n.copy_setting(n.fw_build, sizeof n.fw_build, s.fw_build, "fw_build") ||
      !n.copy_setting(n.hw_model, sizeof n.hw_model, s.hw_model, "hw_model") ||
      !n.copy_setting(n.chip, sizeof n.chip, s.chip, "chip") || !n.copy_setting(n.mac, sizeof n.mac, s.mac, "mac")) {
    return false;
  }
  if (!n.resolve_credentials(s)) return false;
  n.ca_pem = s.ca_pem;

  // Every topic this node uses must fit the protocol's 128 bytes.
  bool topics_fit = n.topics.build(Topic::Status, nullptr, n.will_topic, sizeof n.will_topic) &&
                    n.topics.build(Topic::Command, nullptr, n.cmd_topic, sizeof n.cmd_topic) &&
                    n.topics.build(Topic::BridgeStatus, nullptr, n.bridge_topic, sizeof n.bridge_topic);
  char probe[kTopicCap];
  topics_fit = topics_fit && n.topics.build(Topic::OtaStatus, nullptr, probe, sizeof probe);
  for (int i = 0; topics_fit && i < n.device_count; ++i) {
    topics_fit = n.topics.build(Topic::State, n.devices[i].id(), probe, sizeof probe);
  }
  if (!topics_fit) {
    LogLine(log, LogLevel::Error).w().str("node: the topic prefix and ids make topics longer than 128 bytes");
    return false;
  }

  n.keepalive_s = s.keepalive_s != 0 ? s.keepalive_s : kDefaultKeepaliveS;
  n.telemetry_ms = s.telemetry_interval_ms != 0 ? s.telemetry_interval_ms : kDefaultTelemetryMs;
  n.sensor_ms = s.sensor_interval_ms != 0 ? s.sensor_interval_ms : kDefaultSensorMs;
  n.confirm_ms = s.ota_confirm_timeout_ms != 0 ? s.ota_confirm_timeout_ms : kDefaultConfirmMs;

  // The config never changes while the node runs: encode it once, and refuse to start with one the bridge
  // would drop.
  ConfigFields config = {n.node_id, n.name, n.fw_version, n.fw_build, n.hw_model, n.chip, n.mac, n.devices, n.device_count};
  if (!encode_config(config, n.config_text, sizeof n.config_text)) {
    LogLine(log, LogLevel::Error).w().str("node: the config message does not fit 4096 bytes");
    return false;
  }

  ConnectionConfig cc = {n.uri, n.node_id, n.username, n.password, n.ca_pem, n.keepalive_s,
                         n.will_topic, n.cmd_topic, n.bridge_topic};
  n.conn.init(n.ports.mqtt, n.ports.random, log, cc);
  n.announcer.init(n.device_count);
  n.ota.init(n.ports.http, n.ports.firmware, n.ports.kv, log);
  n.ota.boot();
  n.awaiting_confirm = n.ports.firmware->running_pending_verify();

  uint64_t now = n.now();
  n.begin_ms = now;
  for (int i = 0; i < n.device_count; ++i) n.devices[i].start(n.device_ports, now);
  n.next_sensor_ms = now + n.sensor_ms;
  n.begun = true;
  LogLine(log, LogLevel::Info)
      .w()
      .str("node: ")
      .str(n.node_id)
      .str(" starting with ")
      .num(n.device_count)
      .str(" devices, firmware ")
      .str(n.fw_version)
      .str(", broker ")
      .str(n.uri);
  n.conn.start(now);
  return true;
}

void Node::tick() {
  if (impl_ == nullptr || !impl_->begun) return;
  NodeImpl& n = *impl_;
  uint64_t now = n.now();
  if (n.restart_pending && now >= n.restart_deadline_ms) n.finish_restart();

  // The devices run even when the node is stopped: a cover must still stop its motor where it should.
  for (int i = 0; i < n.device_count; ++i) {
    if (n.devices[i].tick(n.device_ports, now)) n.publish_state(i);
  }
  if (now >= n.next_sensor_ms) {
    n.next_sensor_ms = now + n.sensor_ms;
    for (int i = 0; i < n.device_count; ++i) {
      if (n.devices[i].read_sensor(n.device_ports)) n.publish_state(i);
    }
  }
  if (n.stopped) return;

  n.conn.tick(now);
  if (n.conn.link() == Link::Up) n.announcer.pump(n);
  if (n.online() && now >= n.next_telemetry_ms) {
    n.next_telemetry_ms = now + n.telemetry_ms;
    n.publish_telemetry();
  }
  n.ota.tick(n);
  if (n.awaiting_confirm && !n.stopped && now - n.begin_ms >= n.confirm_ms) {
    // Not marked valid: the bootloader goes back to the previous image, which then reports rolled_back.
    LogLine(n.ports.log, LogLevel::Error)
        .w()
        .str("ota: the new image was not online within ")
        .num(n.confirm_ms / 1000)
        .str(" s; restarting into the previous one");
    n.awaiting_confirm = false;
    n.stopped = true;
    n.conn.stop();
    n.ports.platform->restart();
  }
}

void Node::network_up() {
  if (impl_ == nullptr) return;
  impl_->conn.network_up(impl_->begun ? impl_->now() : 0);
}

void Node::network_down() {
  if (impl_ == nullptr) return;
  NodeImpl& n = *impl_;
  n.conn.network_down();
  n.link_lost();
  if (n.restart_pending) n.finish_restart();
}

void Node::mqtt_connected() {
  if (impl_ == nullptr || !impl_->begun) return;
  impl_->conn.connected(impl_->now());
}

void Node::mqtt_refused(int connack_code) {
  if (impl_ == nullptr || !impl_->begun) return;
  impl_->conn.refused(connack_code, impl_->now());
  impl_->link_lost();
}

void Node::mqtt_disconnected() {
  if (impl_ == nullptr || !impl_->begun) return;
  NodeImpl& n = *impl_;
  if (n.restart_pending) {
    // No PUBACK will come on a closed connection.
    n.restart_disconnect = false;
    n.finish_restart();
    return;
  }
  if (n.conn.disconnected(n.now())) n.link_lost();
}

void Node::mqtt_subscribed(int message_id) {
  if (impl_ == nullptr || !impl_->begun) return;
  NodeImpl& n = *impl_;
  if (n.conn.subscribed(message_id)) {
    n.announced_on_link = false;
    n.announcer.request(n);
  }
}

void Node::mqtt_published(int message_id) {
  if (impl_ == nullptr || !impl_->begun) return;
  NodeImpl& n = *impl_;
  if (n.restart_pending) {
    if (message_id == n.restart_mid) n.finish_restart();
    return;
  }
  if (n.announcer.acked(message_id, n) == Announcer::Ack::Completed) n.announced();
}

void Node::mqtt_message(const char* topic, const uint8_t* payload, size_t len, bool retained) {
  if (impl_ == nullptr || !impl_->begun || impl_->stopped) return;
  NodeImpl& n = *impl_;
  if (n.topics.is(Topic::Command, topic)) {
    if (!n.conn.is_connected()) return;
    if (retained) {
      // A retained command would run again at every subscribe; someone published it by mistake.
      LogLine(n.ports.log, LogLevel::Warn).w().str("cmd: ignoring a retained command");
      return;
    }
    n.handle_command(payload, len);
    return;
  }
  if (n.topics.is(Topic::BridgeStatus, topic)) {
    // The retained `online` arrives on every subscribe and is ignored: the node announces anyway. A live
    // one means the bridge (re)connected, maybe to a broker that lost the retained messages (§13).
    if (!retained && payload_is(payload, len, "online") && n.conn.link() == Link::Up) {
      LogLine(n.ports.log, LogLevel::Info).w().str("node: the bridge came online; announcing again");
      n.announcer.request(n);
    }
  }
}

bool Node::press(const char* dev_id) {
  if (impl_ == nullptr || !impl_->begun) return false;
  NodeImpl& n = *impl_;
  for (int i = 0; i < n.device_count; ++i) {
    if (!text::equal(n.devices[i].id(), dev_id)) continue;
    if (!n.devices[i].press(n.device_ports, n.now())) return false;
    n.publish_state(i);
    return true;
  }
  return false;
}

void Node::shutdown() {
  if (impl_ == nullptr || !impl_->begun || impl_->stopped) return;
  NodeImpl& n = *impl_;
  n.ota.cancel();
  if (n.conn.is_connected()) {
    n.publish(Topic::Status, nullptr, "offline", 7, 1, true);
    n.ports.mqtt->disconnect();
  } else if (n.conn.connecting()) {
    n.ports.mqtt->disconnect();
  }
  n.stopped = true;
  n.conn.stop();
  n.announcer.reset();
  LogLine(n.ports.log, LogLevel::Info).w().str("node: stopped");
}

ConnState Node::state() const {
  if (impl_ == nullptr || !impl_->begun || impl_->stopped) return ConnState::Stopped;
  const NodeImpl& n = *impl_;
  switch (n.conn.link()) {
    case Link::Idle:
    case Link::Stopped: return ConnState::Stopped;
    case Link::WaitingForNetwork: return ConnState::WaitingForNetwork;
    case Link::Backoff: return ConnState::Backoff;
    case Link::Connecting: return ConnState::Connecting;
    case Link::Subscribing: return ConnState::Subscribing;
    case Link::Up: return n.online() ? ConnState::Online : ConnState::Announcing;
  }
  return ConnState::Stopped;
}

}  // namespace hearth
