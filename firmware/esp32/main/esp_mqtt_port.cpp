#include "esp_mqtt_port.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app_events.h"
#include "esp_crt_bundle.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace {

const char* TAG = "mqtt";

char* dup_or_null(const char* s) { return s == nullptr ? nullptr : strdup(s); }

void post(AppEventType type, uint32_t generation, int32_t arg) {
  AppEvent event = {};
  event.type = type;
  event.generation = generation;
  event.arg = arg;
  app_events_post(event);
}

}  // namespace

bool EspMqttPort::connect(const hearth::MqttConnectParams& params) {
  instance_ = this;
  destroy_client();
  free_strings();
  uri_ = dup_or_null(params.uri);
  client_id_ = dup_or_null(params.client_id);
  username_ = dup_or_null(params.username);
  password_ = dup_or_null(params.password);
  ca_pem_ = dup_or_null(params.ca_pem);
  will_topic_ = dup_or_null(params.will.topic);
  will_payload_ = dup_or_null(params.will.payload);
  if (uri_ == nullptr) return false;

  esp_mqtt_client_config_t cfg = {};
  cfg.broker.address.uri = uri_;
  if (strncmp(uri_, "mqtts://", 8) == 0) {
    // The CA from provisioning is pinned; without one, the broker must have a publicly trusted certificate.
    if (ca_pem_ != nullptr) {
      cfg.broker.verification.certificate = ca_pem_;
    } else {
      cfg.broker.verification.crt_bundle_attach = esp_crt_bundle_attach;
    }
  }
  cfg.credentials.client_id = client_id_;
  cfg.credentials.username = username_;
  cfg.credentials.authentication.password = password_;
  cfg.session.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
  cfg.session.keepalive = params.keepalive_s;
  cfg.session.disable_clean_session = false;
  if (will_topic_ != nullptr) {
    cfg.session.last_will.topic = will_topic_;
    cfg.session.last_will.msg = will_payload_;
    cfg.session.last_will.msg_len = will_payload_ ? static_cast<int>(strlen(will_payload_)) : 0;
    cfg.session.last_will.qos = params.will.qos;
    cfg.session.last_will.retain = params.will.retain ? 1 : 0;
  }
  cfg.network.disable_auto_reconnect = true;
  // A command (<= 1024 bytes) plus its topic arrives in one MQTT_EVENT_DATA; the config message (<= 4096
  // bytes) leaves in one buffer.
  cfg.buffer.size = 2048;
  cfg.buffer.out_size = 4096 + 256;

  const uint32_t generation = generation_.load() + 1;
  generation_.store(generation);
  connected_.store(false);
  client_ = esp_mqtt_client_init(&cfg);
  if (client_ == nullptr) return false;
  // The generation travels as the handler's argument, so each event says which client produced it.
  void* arg = reinterpret_cast<void*>(static_cast<uintptr_t>(generation));
  if (esp_mqtt_client_register_event(client_, static_cast<esp_mqtt_event_id_t>(ESP_EVENT_ANY_ID), on_event, arg) !=
          ESP_OK ||
      esp_mqtt_client_start(client_) != ESP_OK) {
    destroy_client();
    return false;
  }
  return true;
}

void EspMqttPort::disconnect() {
  if (client_ != nullptr && connected_.load()) {
    // A clean DISCONNECT, sent by esp-mqtt's task; wait briefly for it to go out.
    esp_mqtt_client_disconnect(client_);
    for (int i = 0; i < 100 && connected_.load(); i++) vTaskDelay(pdMS_TO_TICKS(20));
  }
  destroy_client();
  // The client is gone, and with it any DISCONNECTED it may have queued (its generation is now stale):
  // report the disconnection once, under the new generation.
  const uint32_t generation = generation_.load() + 1;
  generation_.store(generation);
  post(AppEventType::MqttDisconnected, generation, 0);
}

int EspMqttPort::publish(const char* topic, const void* payload, size_t len, int qos, bool retain) {
  if (client_ == nullptr) return -1;
  // len 0 with data nullptr sends an empty payload (esp-mqtt would otherwise take strlen of the data).
  const char* data = len > 0 ? static_cast<const char*>(payload) : nullptr;
  int id = esp_mqtt_client_publish(client_, topic, data, static_cast<int>(len), qos, retain ? 1 : 0);
  if (id < 0) return -1;
  return qos == 0 ? 0 : id;
}

int EspMqttPort::subscribe(const char* topic, int qos) {
  if (client_ == nullptr) return -1;
  int id = esp_mqtt_client_subscribe(client_, topic, qos);
  return id < 0 ? -1 : id;
}

void EspMqttPort::destroy_client() {
  if (client_ == nullptr) return;
  // Stops esp-mqtt's task (blocking); never called from the event handler.
  esp_mqtt_client_destroy(client_);
  client_ = nullptr;
  connected_.store(false);
}

void EspMqttPort::free_strings() {
  char** all[] = {&uri_, &client_id_, &username_, &password_, &ca_pem_, &will_topic_, &will_payload_};
  for (char** s : all) {
    free(*s);
    *s = nullptr;
  }
}

EspMqttPort* EspMqttPort::instance_ = nullptr;

void EspMqttPort::on_event(void* arg, esp_event_base_t, int32_t, void* data) {
  const uint32_t generation = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg));
  if (instance_ != nullptr) instance_->handle(generation, static_cast<esp_mqtt_event_handle_t>(data));
}

// Runs on esp-mqtt's task: copy and post, nothing else.
void EspMqttPort::handle(uint32_t generation, esp_mqtt_event_handle_t event) {
  const bool current = generation == generation_.load();
  switch (event->event_id) {
    case MQTT_EVENT_CONNECTED:
      if (current) connected_.store(true);
      post(AppEventType::MqttConnected, generation, 0);
      break;
    case MQTT_EVENT_DISCONNECTED:
      if (current) connected_.store(false);
      if (refused_generation_.load() != generation) post(AppEventType::MqttDisconnected, generation, 0);
      break;
    case MQTT_EVENT_SUBSCRIBED:
      post(AppEventType::MqttSubscribed, generation, event->msg_id);
      break;
    case MQTT_EVENT_PUBLISHED:
      post(AppEventType::MqttPublished, generation, event->msg_id);
      break;
    case MQTT_EVENT_DATA:
      // Messages longer than the buffer arrive in pieces; only the first carries the topic. Node messages
      // fit in one piece, so the first piece goes on (cut to the queue's bound; the core refuses its size)
      // and the rest are dropped.
      if (event->current_data_offset != 0) break;
      if (event->total_data_len > event->data_len) {
        ESP_LOGW(TAG, "%d-byte message on %.*s is larger than the buffer", event->total_data_len, event->topic_len,
                 event->topic);
      }
      app_events_post_message(generation, event->topic, static_cast<size_t>(event->topic_len),
                              reinterpret_cast<const uint8_t*>(event->data), static_cast<size_t>(event->data_len),
                              event->retain);
      break;
    case MQTT_EVENT_ERROR:
      if (event->error_handle == nullptr) break;
      if (event->error_handle->error_type == MQTT_ERROR_TYPE_CONNECTION_REFUSED) {
        refused_generation_.store(generation);
        post(AppEventType::MqttRefused, generation, static_cast<int32_t>(event->error_handle->connect_return_code));
      } else if (event->error_handle->error_type == MQTT_ERROR_TYPE_TCP_TRANSPORT) {
        // DISCONNECTED follows; the log says why (DNS, TCP, TLS verification…).
        ESP_LOGW(TAG, "transport error: esp-tls 0x%x, TLS stack 0x%x, certificate flags 0x%x, errno %d",
                 event->error_handle->esp_tls_last_esp_err, event->error_handle->esp_tls_stack_err,
                 event->error_handle->esp_tls_cert_verify_flags, event->error_handle->esp_transport_sock_errno);
      }
      break;
    default:
      break;
  }
}
