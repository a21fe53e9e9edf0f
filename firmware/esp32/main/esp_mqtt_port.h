// hearth::Mqtt over esp-mqtt. esp-mqtt runs its own task; its events are copied into the app queue
// (app_events.h) and reach the core on the app task. The core owns reconnecting and its backoff, so the
// client's auto-reconnect is off and every connect() makes a fresh client: each one gets a generation
// number, and events of an older client still in the queue are dropped by the app (is_current()).
#pragma once

#include <atomic>

#include "mqtt_client.h"
#include "ports.h"

class EspMqttPort final : public hearth::Mqtt {
 public:
  bool connect(const hearth::MqttConnectParams& params) override;
  void disconnect() override;
  int publish(const char* topic, const void* payload, size_t len, int qos, bool retain) override;
  int subscribe(const char* topic, int qos) override;
  bool is_current(uint32_t generation) const { return generation == generation_.load(); }

 private:
  // There is one port per board; esp-mqtt's handler finds it here.
  static EspMqttPort* instance_;
  static void on_event(void* arg, esp_event_base_t base, int32_t id, void* data);
  void handle(uint32_t generation, esp_mqtt_event_handle_t event);
  void destroy_client();
  void free_strings();

  esp_mqtt_client_handle_t client_ = nullptr;
  std::atomic<uint32_t> generation_{0};
  std::atomic<bool> connected_{false};
  // The generation whose connection the broker refused: its following DISCONNECTED is not reported, so
  // that the core gets exactly one outcome (refused) for that attempt.
  std::atomic<uint32_t> refused_generation_{0};
  // esp-mqtt does not copy the CA; the port keeps every string of the current connection.
  char* uri_ = nullptr;
  char* client_id_ = nullptr;
  char* username_ = nullptr;
  char* password_ = nullptr;
  char* ca_pem_ = nullptr;
  char* will_topic_ = nullptr;
  char* will_payload_ = nullptr;
};
