// The one queue between the SDK's tasks (esp-mqtt, Wi-Fi, the provisioning manager, the button ISR's
// consumer) and the app task that owns the hearth::Node. The core is single-threaded: nothing but the app
// task calls into it, so every callback only copies what it got and posts it here.
#pragma once

#include <stddef.h>
#include <stdint.h>

enum class AppEventType : uint8_t {
  NetworkUp,
  NetworkDown,
  MqttConnected,
  MqttRefused,       // arg: CONNACK return code
  MqttDisconnected,
  MqttSubscribed,    // arg: message id
  MqttPublished,     // arg: message id
  MqttMessage,       // topic + payload in `data`
};

struct AppEvent {
  AppEventType type;
  bool retained;
  uint32_t generation;  // MQTT events: the client instance that produced them (stale ones are dropped)
  int32_t arg;
  // MqttMessage only: one heap block holding "<topic>\0<payload>", freed by app_event_free().
  char* data;
  uint16_t topic_len;
  uint16_t payload_len;
};

// Creates the queue. Call once, before any producer starts.
void app_events_init();
// Posts a copy of the event; waits up to 2 s for room, then drops it with an error log (false).
bool app_events_post(const AppEvent& event);
// Posts an MqttMessage, copying topic and payload into one bounded heap block.
bool app_events_post_message(uint32_t generation, const char* topic, size_t topic_len, const uint8_t* payload,
                             size_t payload_len, bool retained);
// Waits up to timeout_ms for the next event.
bool app_events_receive(AppEvent* out, uint32_t timeout_ms);
void app_event_free(AppEvent* event);
