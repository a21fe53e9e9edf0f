#include "app_events.h"

#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"

namespace {

const char* TAG = "events";
// Deep enough for a burst of PUBACKs while the app task is busy in a blocking HTTP or flash call.
constexpr UBaseType_t kDepth = 32;
// A command is at most 1024 bytes (protocol §17); anything larger is cut to this and the core answers
// bad_request for its size. Topics are at most 128 bytes.
constexpr size_t kMaxPayload = 1280;
constexpr size_t kMaxTopic = 160;
QueueHandle_t s_queue = nullptr;

}  // namespace

void app_events_init() { s_queue = xQueueCreate(kDepth, sizeof(AppEvent)); }

bool app_events_post(const AppEvent& event) {
  if (s_queue != nullptr && xQueueSend(s_queue, &event, pdMS_TO_TICKS(2000)) == pdTRUE) return true;
  ESP_LOGE(TAG, "event queue full: event %d dropped", static_cast<int>(event.type));
  return false;
}

bool app_events_post_message(uint32_t generation, const char* topic, size_t topic_len, const uint8_t* payload,
                             size_t payload_len, bool retained) {
  if (topic_len > kMaxTopic) {
    ESP_LOGW(TAG, "message on a %u-byte topic ignored", static_cast<unsigned>(topic_len));
    return false;
  }
  if (payload_len > kMaxPayload) payload_len = kMaxPayload;
  char* block = static_cast<char*>(malloc(topic_len + 1 + payload_len + 1));
  if (block == nullptr) {
    ESP_LOGE(TAG, "no memory for a %u-byte message", static_cast<unsigned>(payload_len));
    return false;
  }
  memcpy(block, topic, topic_len);
  block[topic_len] = '\0';
  if (payload_len > 0) memcpy(block + topic_len + 1, payload, payload_len);
  block[topic_len + 1 + payload_len] = '\0';
  AppEvent event = {};
  event.type = AppEventType::MqttMessage;
  event.generation = generation;
  event.retained = retained;
  event.data = block;
  event.topic_len = static_cast<uint16_t>(topic_len);
  event.payload_len = static_cast<uint16_t>(payload_len);
  if (app_events_post(event)) return true;
  free(block);
  return false;
}

bool app_events_receive(AppEvent* out, uint32_t timeout_ms) {
  return xQueueReceive(s_queue, out, pdMS_TO_TICKS(timeout_ms)) == pdTRUE;
}

void app_event_free(AppEvent* event) {
  free(event->data);
  event->data = nullptr;
}
