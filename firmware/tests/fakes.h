// Fakes of every port in core/ports.h. Each records what the core did with it and lets a test script what
// the world answers: time only moves when a test advances it, MQTT acknowledgements only come when a test
// gives them, HTTP serves a buffer with a chosen status, chunking or failure.
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <map>
#include <string>
#include <vector>

#include "ports.h"

namespace fakes {

class Clock final : public hearth::Clock {
 public:
  uint64_t ms = 1000;
  bool synced = false;
  int64_t unix_at_boot = 1800000000;

  uint64_t monotonic_ms() override { return ms; }
  bool unix_seconds(int64_t* out) override {
    if (!synced) return false;
    *out = unix_at_boot + static_cast<int64_t>(ms / 1000);
    return true;
  }
  int64_t unix_now() const { return unix_at_boot + static_cast<int64_t>(ms / 1000); }
};

// Returns the scripted values in order, then a fixed one.
class Random final : public hearth::Random {
 public:
  std::vector<uint32_t> script;
  uint32_t after_script = 0;
  size_t next = 0;
  uint32_t next_u32() override { return next < script.size() ? script[next++] : after_script; }
};

struct Publish {
  std::string topic;
  std::string payload;
  int qos;
  bool retain;
  int mid;
  bool acked;
};

struct Subscription {
  std::string topic;
  int qos;
  int mid;
  bool acked;
};

class Mqtt final : public hearth::Mqtt {
 public:
  // Script
  bool connect_result = true;
  bool publish_fails = false;
  bool subscribe_fails = false;
  // Record
  int connects = 0;
  int disconnects = 0;
  std::string uri, client_id, username, password, will_topic, will_payload;
  const char* ca_pem = nullptr;
  int will_qos = -1;
  bool will_retain = false;
  uint16_t keepalive_s = 0;
  std::vector<Publish> published;
  std::vector<Subscription> subscriptions;
  int next_mid = 1;

  bool connect(const hearth::MqttConnectParams& p) override {
    ++connects;
    uri = p.uri ? p.uri : "";
    client_id = p.client_id ? p.client_id : "";
    username = p.username ? p.username : "";
    password = p.password ? p.password : "";
    ca_pem = p.ca_pem;
    keepalive_s = p.keepalive_s;
    will_topic = p.will.topic ? p.will.topic : "";
    will_payload = p.will.payload ? p.will.payload : "";
    will_qos = p.will.qos;
    will_retain = p.will.retain;
    return connect_result;
  }
  void disconnect() override { ++disconnects; }
  int publish(const char* topic, const void* payload, size_t len, int qos, bool retain) override {
    if (publish_fails) return -1;
    int mid = qos > 0 ? next_mid++ : 0;
    published.push_back(Publish{topic, std::string(static_cast<const char*>(payload), len), qos, retain, mid, false});
    return mid;
  }
  int subscribe(const char* topic, int qos) override {
    if (subscribe_fails) return -1;
    int mid = next_mid++;
    subscriptions.push_back(Subscription{topic, qos, mid, false});
    return mid;
  }

  // Publishes whose topic ends with suffix (e.g. "/status", "/d/light/state").
  std::vector<Publish> on(const std::string& suffix) const {
    std::vector<Publish> found;
    for (const auto& p : published) {
      if (p.topic.size() >= suffix.size() && p.topic.compare(p.topic.size() - suffix.size(), suffix.size(), suffix) == 0) {
        found.push_back(p);
      }
    }
    return found;
  }
  size_t count(const std::string& suffix) const { return on(suffix).size(); }
  std::string last_payload(const std::string& suffix) const {
    auto found = on(suffix);
    return found.empty() ? std::string() : found.back().payload;
  }
};

class KeyValueStore final : public hearth::KeyValueStore {
 public:
  std::map<std::string, std::string> values;
  bool set_fails = false;

  int get(const char* key, void* buf, size_t cap) override {
    auto it = values.find(key);
    if (it == values.end() || it->second.size() > cap) return -1;
    memcpy(buf, it->second.data(), it->second.size());
    return static_cast<int>(it->second.size());
  }
  bool set(const char* key, const void* data, size_t len) override {
    if (set_fails) return false;
    values[key] = std::string(static_cast<const char*>(data), len);
    return true;
  }
  bool erase(const char* key) override {
    values.erase(key);
    return true;
  }
  bool has(const std::string& key) const { return values.count(key) != 0; }
};

class Gpio final : public hearth::Gpio {
 public:
  std::map<int, bool> level;
  std::vector<std::pair<int, bool>> writes;
  std::map<int, uint16_t> duty;
  std::vector<std::pair<int, uint16_t>> pwms;

  void write(int pin, bool lvl) override {
    level[pin] = lvl;
    writes.emplace_back(pin, lvl);
  }
  void pwm(int channel, uint16_t d) override {
    duty[channel] = d;
    pwms.emplace_back(channel, d);
  }
};

class Sensors final : public hearth::Sensors {
 public:
  struct Reading {
    bool ok;
    float temperature;
    float humidity;
  };
  std::map<int, Reading> readings;
  int reads = 0;

  bool read_climate(int index, float* t, float* h) override {
    ++reads;
    auto it = readings.find(index);
    if (it == readings.end() || !it->second.ok) return false;
    *t = it->second.temperature;
    *h = it->second.humidity;
    return true;
  }
  void set(int index, float t, float h) { readings[index] = Reading{true, t, h}; }
  void fail(int index) { readings[index].ok = false; }
};

class Http final : public hearth::Http {
 public:
  // GET script
  bool open_fails = false;
  int status = 200;
  int64_t content_length = -2;  // -2: the body's size; -1: unknown; else this
  std::string body;
  size_t max_read = 1 << 20;     // bytes per get_read at most
  size_t fail_at = SIZE_MAX;     // a read that reaches this offset fails
  // GET record
  std::string get_url;
  int opens = 0;
  int closes = 0;
  int reads = 0;
  size_t pos = 0;
  // POST script and record
  int post_status = 200;
  std::string post_response;
  std::vector<std::pair<std::string, std::string>> posts;

  bool get_open(const char* url, int* st, int64_t* len) override {
    ++opens;
    get_url = url;
    pos = 0;
    if (open_fails) return false;
    *st = status;
    *len = content_length == -2 ? static_cast<int64_t>(body.size()) : content_length;
    return true;
  }
  int get_read(uint8_t* buf, size_t cap) override {
    ++reads;
    if (pos >= fail_at) return -1;
    size_t n = body.size() - pos;
    if (n > cap) n = cap;
    if (n > max_read) n = max_read;
    if (fail_at != SIZE_MAX && pos + n > fail_at) n = fail_at - pos;
    memcpy(buf, body.data() + pos, n);
    pos += n;
    return static_cast<int>(n);
  }
  void get_close() override { ++closes; }
  int post_json(const char* url, const char* b, char* resp, size_t cap) override {
    posts.emplace_back(url, b);
    size_t n = post_response.size() < cap - 1 ? post_response.size() : cap - 1;
    memcpy(resp, post_response.data(), n);
    resp[n] = '\0';
    return post_status;
  }
};

class Firmware final : public hearth::Firmware {
 public:
  std::string running = "1.0.0";
  bool pending = false;
  bool begin_result = true;
  size_t write_fails_after = SIZE_MAX;  // bytes accepted before write() refuses
  bool finish_result = true;
  // Record
  int begins = 0, finishes = 0, aborts = 0, marked_valid = 0;
  size_t begun_size = 0;
  std::string begun_version;
  std::string written;

  bool begin(size_t image_size, const char* version) override {
    ++begins;
    begun_size = image_size;
    begun_version = version;
    written.clear();
    return begin_result;
  }
  bool write(const uint8_t* data, size_t len) override {
    if (written.size() + len > write_fails_after) return false;
    written.append(reinterpret_cast<const char*>(data), len);
    return true;
  }
  bool finish() override {
    ++finishes;
    return finish_result;
  }
  void abort() override { ++aborts; }
  const char* running_version() override { return running.c_str(); }
  bool running_pending_verify() override { return pending; }
  void mark_running_valid() override {
    ++marked_valid;
    pending = false;
  }
};

class Platform final : public hearth::Platform {
 public:
  int restarts = 0;
  uint32_t heap = 143000;
  int signal = -61;
  std::string address = "192.168.1.40";

  void restart() override { ++restarts; }
  uint32_t free_heap() override { return heap; }
  int rssi() override { return signal; }
  const char* ip() override { return address.c_str(); }
};

class Log final : public hearth::Log {
 public:
  std::vector<std::string> lines;
  bool echo = false;

  void write(hearth::LogLevel, const char* message) override {
    lines.emplace_back(message);
    if (echo) printf("    log: %s\n", message);
  }
  bool contains(const std::string& part) const {
    for (const auto& l : lines) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace fakes
