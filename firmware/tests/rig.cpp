#include "rig.h"

#include "sha256.h"
#include "text.h"

bool View::has(const char* key) const {
  return item_ != nullptr && cJSON_GetObjectItemCaseSensitive(item_, key) != nullptr;
}

View View::get(const char* key) const {
  return View(item_ == nullptr ? nullptr : cJSON_GetObjectItemCaseSensitive(item_, key));
}

View View::at(int index) const { return View(item_ == nullptr ? nullptr : cJSON_GetArrayItem(item_, index)); }

int View::size() const { return item_ == nullptr ? -1 : cJSON_GetArraySize(item_); }

std::string View::str(const char* key) const {
  const cJSON* v = get(key).item();
  return cJSON_IsString(v) ? v->valuestring : "";
}

double View::num(const char* key) const {
  const cJSON* v = get(key).item();
  return cJSON_IsNumber(v) ? v->valuedouble : -99999;
}

bool View::truth(const char* key) const { return cJSON_IsTrue(get(key).item()); }
bool View::is_bool(const char* key) const { return cJSON_IsBool(get(key).item()); }
bool View::is_null(const char* key) const { return cJSON_IsNull(get(key).item()); }

std::string View::keys() const {
  std::string out;
  if (item_ == nullptr) return out;
  for (const cJSON* c = item_->child; c != nullptr; c = c->next) {
    if (!out.empty()) out += ",";
    out += c->string ? c->string : "?";
  }
  return out;
}

Json::Json(const std::string& text) : View(nullptr), owned_(cJSON_Parse(text.c_str())) { item_ = owned_; }
Json::~Json() { cJSON_Delete(owned_); }
Json::Json(Json&& other) noexcept : View(other.owned_), owned_(other.owned_) {
  other.owned_ = nullptr;
  other.item_ = nullptr;
}

Rig::Rig() : settings() {
  settings.node_id = "esp-test01";
  settings.mqtt_uri = "mqtt://broker.local:1883";
  settings.password = "secret";
  node.reset(new hearth::Node(ports()));
}

hearth::Ports Rig::ports() {
  return hearth::Ports{&clock, &random, &mqtt, &kv, &gpio, &sensors, &http, &firmware, &platform, &log};
}

void Rig::restart_node() {
  node.reset();
  mqtt = fakes::Mqtt();
  gpio = fakes::Gpio();
  node.reset(new hearth::Node(ports()));
}

bool Rig::add(hearth::DeviceKind kind, const char* id, int pin, int pin2, int pwm, int sensor) {
  hearth::DeviceSpec spec = hearth::device_spec(kind, id, nullptr);
  spec.output_pin = pin;
  spec.output_pin2 = pin2;
  spec.pwm_channel = pwm;
  spec.sensor_index = sensor;
  return node->add_device(spec);
}

void Rig::add_standard_devices() {
  using hearth::DeviceKind;
  using hearth::kNoPin;
  add(DeviceKind::Switch, "relay", 5);
  add(DeviceKind::Outlet, "outlet", 4);
  add(DeviceKind::Light, "light", kNoPin, kNoPin, 1);
  add(DeviceKind::Cover, "door", 6, 7);
  add(DeviceKind::Lock, "lock", 8);
  add(DeviceKind::Thermostat, "heat", 9, kNoPin, kNoPin, 1);
  add(DeviceKind::Fan, "fan", kNoPin, kNoPin, 2);
  add(DeviceKind::Sensor, "temp", kNoPin, kNoPin, kNoPin, 0);
}

bool Rig::begin() { return node->begin(settings); }

void Rig::connect() {
  node->network_up();
  node->mqtt_connected();
  for (auto& s : mqtt.subscriptions) {
    if (s.acked) continue;
    s.acked = true;
    node->mqtt_subscribed(s.mid);
  }
}

void Rig::ack_all() {
  bool any = true;
  while (any) {
    any = false;
    for (size_t i = 0; i < mqtt.published.size(); ++i) {
      if (mqtt.published[i].qos == 0 || mqtt.published[i].acked) continue;
      mqtt.published[i].acked = true;
      any = true;
      node->mqtt_published(mqtt.published[i].mid);
    }
  }
}

void Rig::online() {
  connect();
  ack_all();
}

void Rig::advance(uint64_t ms, uint64_t step_ms) {
  uint64_t end = clock.ms + ms;
  while (clock.ms < end) {
    clock.ms += (end - clock.ms) < step_ms ? (end - clock.ms) : step_ms;
    node->tick();
  }
}

std::string Rig::topic(const std::string& suffix) const {
  if (suffix == "bridge/status") return "hearth/v1/bridge/status";
  return std::string("hearth/v1/") + settings.node_id + "/" + suffix;
}

void Rig::send(const std::string& topic_suffix, const std::string& payload, bool retained) {
  node->mqtt_message(topic(topic_suffix).c_str(), reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                     retained);
}

Json Rig::command(const std::string& payload) {
  send("cmd", payload);
  ack_all();
  return last("/cmd/res");
}

Json Rig::last(const std::string& suffix) const { return Json(mqtt.last_payload(suffix)); }

std::string sha256_hex(const std::string& data) {
  uint8_t digest[hearth::kSha256Bytes];
  hearth::sha256(data.data(), data.size(), digest);
  char hex[2 * hearth::kSha256Bytes + 1];
  hearth::text::to_hex(digest, sizeof digest, hex);
  return hex;
}

std::string ota_command(const std::string& id, const std::string& image, const std::string& version,
                        const std::string& extra) {
  return "{\"id\":\"" + id + "\",\"op\":\"ota\",\"url\":\"http://bridge.local:8080/ota/" + id +
         "/token\",\"sha256\":\"" + sha256_hex(image) + "\",\"size\":" + std::to_string(image.size()) +
         ",\"version\":\"" + version + "\"" + extra + "}";
}
