#include "mosquitto_mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "file_store.h"

namespace hearth_host {

namespace {

// mqtt://host[:port] or mqtts://host[:port], with an optional trailing "/". IPv6 literals go in brackets.
bool parse_uri(const char* uri, char* host, size_t host_cap, int* port, bool* tls) {
  const char* rest;
  if (strncmp(uri, "mqtt://", 7) == 0) {
    rest = uri + 7;
    *tls = false;
    *port = 1883;
  } else if (strncmp(uri, "mqtts://", 8) == 0) {
    rest = uri + 8;
    *tls = true;
    *port = 8883;
  } else {
    return false;
  }
  const char* host_start = rest;
  const char* host_end;
  const char* after;
  if (*rest == '[') {
    host_start = rest + 1;
    host_end = strchr(host_start, ']');
    if (host_end == nullptr) return false;
    after = host_end + 1;
  } else {
    host_end = rest + strcspn(rest, ":/");
    after = host_end;
  }
  size_t host_len = static_cast<size_t>(host_end - host_start);
  if (host_len == 0 || host_len >= host_cap) return false;
  memcpy(host, host_start, host_len);
  host[host_len] = '\0';
  if (*after == ':') {
    char* end;
    long value = strtol(after + 1, &end, 10);
    if (end == after + 1 || value < 1 || value > 65535) return false;
    *port = static_cast<int>(value);
    after = end;
  }
  if (*after == '/') ++after;
  return *after == '\0';
}

uint64_t monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

bool copy_checked(char* dst, size_t cap, const char* src) {
  size_t len = strlen(src);
  if (len >= cap) return false;
  memcpy(dst, src, len + 1);
  return true;
}

}  // namespace

MosquittoMqtt::MosquittoMqtt(StderrLog* log, const char* ca_file) : log_(log) {
  snprintf(ca_file_, sizeof ca_file_, "%s", ca_file);
}

MosquittoMqtt::~MosquittoMqtt() { release(); }

bool MosquittoMqtt::init() {
  if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
    log_->printf(hearth::LogLevel::Error, "mqtt: libmosquitto failed to initialise");
    return false;
  }
  lib_ready_ = true;
  return true;
}

void MosquittoMqtt::release() {
  destroy_client();
  if (lib_ready_) {
    mosquitto_lib_cleanup();
    lib_ready_ = false;
  }
}

void MosquittoMqtt::destroy_client() {
  if (mosq_ != nullptr) {
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }
}

bool MosquittoMqtt::has_socket() const { return mosq_ != nullptr && mosquitto_socket(mosq_) >= 0; }

bool MosquittoMqtt::connect(const hearth::MqttConnectParams& p) {
  if (!lib_ready_) return false;
  Params next = {};
  bool ok = p.uri != nullptr && p.client_id != nullptr && copy_checked(next.uri, sizeof next.uri, p.uri) &&
            copy_checked(next.client_id, sizeof next.client_id, p.client_id) &&
            copy_checked(next.username, sizeof next.username, p.username ? p.username : "") &&
            copy_checked(next.password, sizeof next.password, p.password ? p.password : "") &&
            copy_checked(next.will_topic, sizeof next.will_topic, p.will.topic ? p.will.topic : "") &&
            copy_checked(next.will_payload, sizeof next.will_payload, p.will.payload ? p.will.payload : "");
  if (!ok) {
    log_->printf(hearth::LogLevel::Error, "mqtt: connect parameters too long");
    return false;
  }
  next.has_password = p.password != nullptr;
  next.keepalive_s = p.keepalive_s;
  next.will_qos = p.will.qos;
  next.will_retain = p.will.retain;
  next.has_ca = p.ca_pem != nullptr && p.ca_pem[0] != '\0';
  if (next.has_ca && !write_file_atomic(ca_file_, p.ca_pem, strlen(p.ca_pem))) {
    log_->printf(hearth::LogLevel::Error, "mqtt: cannot write the CA to %s: %s", ca_file_, strerror(errno));
    return false;
  }
  params_ = next;
  refused_ = false;
  lost_pending_ = false;
  if (in_callback_ > 0) {
    // Destroying the client inside its own callback would free what libmosquitto is still using.
    start_pending_ = true;
    session_ = Session::Connecting;
    return true;
  }
  if (!start()) return false;
  session_ = Session::Connecting;
  return true;
}

bool MosquittoMqtt::start() {
  // A fresh client for every attempt: nothing of a lost session (queued or in-flight messages, their ids) can
  // leak into the next one, just as with the board's clean session.
  destroy_client();
  char host[128];
  int port;
  bool tls;
  if (!parse_uri(params_.uri, host, sizeof host, &port, &tls)) {
    log_->printf(hearth::LogLevel::Error,
                 "mqtt: cannot use the broker address %s (mqtt://host:port or mqtts://host:port)", params_.uri);
    return false;
  }
  mosq_ = mosquitto_new(params_.client_id, true, this);
  if (mosq_ == nullptr) {
    log_->printf(hearth::LogLevel::Error, "mqtt: cannot create a client: %s", strerror(errno));
    return false;
  }
  mosquitto_connect_callback_set(mosq_, on_connect);
  mosquitto_disconnect_callback_set(mosq_, on_disconnect);
  mosquitto_publish_callback_set(mosq_, on_publish);
  mosquitto_subscribe_callback_set(mosq_, on_subscribe);
  mosquitto_message_callback_set(mosq_, on_message);
  mosquitto_log_callback_set(mosq_, on_log);

  int rc = mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  if (rc == MOSQ_ERR_SUCCESS && params_.username[0] != '\0') {
    rc = mosquitto_username_pw_set(mosq_, params_.username, params_.has_password ? params_.password : nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS && params_.will_topic[0] != '\0') {
    rc = mosquitto_will_set(mosq_, params_.will_topic, static_cast<int>(strlen(params_.will_payload)),
                            params_.will_payload, params_.will_qos, params_.will_retain);
  }
  if (rc == MOSQ_ERR_SUCCESS && tls) {
    if (params_.has_ca) {
      rc = mosquitto_tls_set(mosq_, ca_file_, nullptr, nullptr, nullptr, nullptr);
    } else {
      rc = mosquitto_int_option(mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    }
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    log_->printf(hearth::LogLevel::Error, "mqtt: cannot configure the client: %s", mosquitto_strerror(rc));
    destroy_client();
    return false;
  }
  // mosquitto_connect_async returns once the TCP connection is on its way; CONNACK comes through on_connect.
  int keepalive = params_.keepalive_s > 0 ? params_.keepalive_s : 30;
  rc = mosquitto_connect_async(mosq_, host, port, keepalive);
  if (rc != MOSQ_ERR_SUCCESS) {
    log_->printf(hearth::LogLevel::Warn, "mqtt: cannot connect to %s: %s", params_.uri,
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    destroy_client();
    return false;
  }
  connect_started_ms_ = monotonic_ms();
  log_->printf(hearth::LogLevel::Debug, "mqtt: connecting to %s:%d%s as %s", host, port, tls ? " (TLS)" : "",
               params_.client_id);
  return true;
}

bool MosquittoMqtt::connect_failed() {
  int fd = mosquitto_socket(mosq_);
  if (fd < 0) return false;
  // libmosquitto notices a refused TCP connection under TLS only at its keepalive check (1.5 × keepalive later),
  // so the socket is looked at here: a connection attempt that failed leaves it hung up (or writable while not
  // connected, once libmosquitto has read the error away), where one still in progress is neither.
  struct pollfd pfd = {fd, POLLOUT, 0};
  if (poll(&pfd, 1, 0) == 1) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    bool hung_up = (pfd.revents & (POLLERR | POLLHUP)) != 0;
    bool unconnected = (pfd.revents & POLLOUT) != 0 &&
                       getpeername(fd, reinterpret_cast<struct sockaddr*>(&peer), &peer_len) != 0 && errno == ENOTCONN;
    if (hung_up || unconnected) {
      log_->printf(hearth::LogLevel::Warn, "mqtt: cannot connect to %s: %s", params_.uri,
                   strerror(error != 0 ? error : ECONNREFUSED));
      return true;
    }
  }
  // A broker that accepts the connection and never answers the CONNECT: give up like on a connect timeout.
  if (monotonic_ms() - connect_started_ms_ > kConnackTimeoutMs) {
    log_->printf(hearth::LogLevel::Warn, "mqtt: no CONNACK from %s within %d s", params_.uri,
                 static_cast<int>(kConnackTimeoutMs / 1000));
    return true;
  }
  return false;
}

void MosquittoMqtt::disconnect() {
  if (mosq_ == nullptr || session_ == Session::Idle) {
    // Nothing to close; the node still expects to hear that the connection is gone.
    if (session_ != Session::Idle) lost_pending_ = true;
    start_pending_ = false;
    return;
  }
  if (start_pending_ || session_ == Session::Connecting) {
    // No CONNACK yet, so no session to end cleanly: drop the socket (the broker has no will to publish either).
    start_pending_ = false;
    lost_pending_ = true;
    return;
  }
  // libmosquitto writes the DISCONNECT at once when it can and calls on_disconnect from inside this call;
  // in_disconnect_ makes that report wait for service().
  in_disconnect_ = true;
  int rc = mosquitto_disconnect(mosq_);
  in_disconnect_ = false;
  if (rc != MOSQ_ERR_SUCCESS) {
    // No connection to close cleanly (CONNECT not answered yet, or already gone): drop the socket.
    log_->printf(hearth::LogLevel::Debug, "mqtt: disconnect: %s", mosquitto_strerror(rc));
    lost_pending_ = true;
  }
}

int MosquittoMqtt::publish(const char* topic, const void* payload, size_t len, int qos, bool retain) {
  if (mosq_ == nullptr || session_ != Session::Connected || len > 65536) return -1;
  int mid = 0;
  // libmosquitto may write a QoS 0 message at once and call on_publish for it before this returns.
  in_qos0_publish_ = qos == 0;
  int rc = mosquitto_publish(mosq_, &mid, topic, static_cast<int>(len), payload, qos, retain);
  in_qos0_publish_ = false;
  if (rc != MOSQ_ERR_SUCCESS) {
    log_->printf(hearth::LogLevel::Warn, "mqtt: publish to %s failed: %s", topic, mosquitto_strerror(rc));
    return -1;
  }
  if (qos == 0) {
    qos0_mids_[qos0_next_] = mid;
    qos0_next_ = (qos0_next_ + 1) % kQos0Ring;
    return 0;
  }
  return mid;
}

int MosquittoMqtt::subscribe(const char* topic, int qos) {
  if (mosq_ == nullptr || session_ != Session::Connected) return -1;
  int mid = 0;
  int rc = mosquitto_subscribe(mosq_, &mid, topic, qos);
  if (rc != MOSQ_ERR_SUCCESS) {
    log_->printf(hearth::LogLevel::Warn, "mqtt: subscribe to %s failed: %s", topic, mosquitto_strerror(rc));
    return -1;
  }
  return mid;
}

bool MosquittoMqtt::is_qos0_mid(int mid) {
  for (int& m : qos0_mids_) {
    if (m == mid && mid != 0) {
      m = 0;
      return true;
    }
  }
  return false;
}

void MosquittoMqtt::report_lost() {
  if (session_ == Session::Idle) return;
  bool refused = refused_;
  session_ = Session::Idle;
  refused_ = false;
  // After a refused CONNACK the broker closes the socket; the refusal was the attempt's outcome already.
  if (!refused && node_ != nullptr) node_->mqtt_disconnected();
}

void MosquittoMqtt::service(int timeout_ms) {
  if (start_pending_) {
    start_pending_ = false;
    if (!start()) lost_pending_ = true;
  }
  if (lost_pending_) {
    lost_pending_ = false;
    destroy_client();
    report_lost();
    return;
  }
  if (mosq_ == nullptr) return;
  int rc = mosquitto_loop(mosq_, timeout_ms, 1);
  // After the loop, so that a CONNACK already received has been handled first.
  if (mosq_ != nullptr && session_ == Session::Connecting && !refused_ && connect_failed()) {
    destroy_client();
    report_lost();
    return;
  }
  // libmosquitto reports most losses through on_disconnect; whatever else left the socket closed (a failed TCP
  // or TLS handshake, say) is reported here, once.
  if (mosq_ != nullptr && session_ != Session::Idle && mosquitto_socket(mosq_) < 0) {
    if (rc != MOSQ_ERR_SUCCESS && !refused_) {
      log_->printf(hearth::LogLevel::Warn, "mqtt: connection to %s lost: %s", params_.uri,
                   rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    }
    report_lost();
  }
}

void MosquittoMqtt::on_connect(struct mosquitto*, void* obj, int rc) {
  MosquittoMqtt* self = static_cast<MosquittoMqtt*>(obj);
  self->in_callback_++;
  if (rc == 0) {
    self->session_ = Session::Connected;
    if (self->node_ != nullptr) self->node_->mqtt_connected();
  } else {
    self->log_->printf(hearth::LogLevel::Warn, "mqtt: the broker refused the connection: %s (%d)",
                       mosquitto_connack_string(rc), rc);
    self->refused_ = true;
    if (self->node_ != nullptr) self->node_->mqtt_refused(rc);
  }
  self->in_callback_--;
}

void MosquittoMqtt::on_disconnect(struct mosquitto*, void* obj, int rc) {
  MosquittoMqtt* self = static_cast<MosquittoMqtt*>(obj);
  if (self->in_disconnect_) {
    self->lost_pending_ = true;
    return;
  }
  self->in_callback_++;
  if (rc != 0 && !self->refused_ && self->session_ != Session::Idle) {
    self->log_->printf(hearth::LogLevel::Warn, "mqtt: connection lost: %s (%d)", mosquitto_strerror(rc), rc);
  }
  self->report_lost();
  self->in_callback_--;
}

void MosquittoMqtt::on_publish(struct mosquitto*, void* obj, int mid) {
  MosquittoMqtt* self = static_cast<MosquittoMqtt*>(obj);
  if (self->in_qos0_publish_ || self->is_qos0_mid(mid)) return;
  self->in_callback_++;
  if (self->node_ != nullptr) self->node_->mqtt_published(mid);
  self->in_callback_--;
}

void MosquittoMqtt::on_subscribe(struct mosquitto*, void* obj, int mid, int qos_count, const int* granted_qos) {
  MosquittoMqtt* self = static_cast<MosquittoMqtt*>(obj);
  for (int i = 0; i < qos_count; ++i) {
    // 0x80: the broker refused the subscription (its ACL). The node cannot do better than retry later, but the
    // person reading the log must learn why no command ever arrives.
    if (granted_qos[i] == 0x80) {
      self->log_->printf(hearth::LogLevel::Error, "mqtt: the broker refused a subscription (message id %d)", mid);
    }
  }
  self->in_callback_++;
  if (self->node_ != nullptr) self->node_->mqtt_subscribed(mid);
  self->in_callback_--;
}

void MosquittoMqtt::on_message(struct mosquitto*, void* obj, const struct mosquitto_message* message) {
  MosquittoMqtt* self = static_cast<MosquittoMqtt*>(obj);
  if (message->payloadlen < 0) return;
  self->in_callback_++;
  if (self->node_ != nullptr) {
    self->node_->mqtt_message(message->topic, static_cast<const uint8_t*>(message->payload),
                              static_cast<size_t>(message->payloadlen), message->retain);
  }
  self->in_callback_--;
}

void MosquittoMqtt::on_log(struct mosquitto*, void* obj, int level, const char* text) {
  MosquittoMqtt* self = static_cast<MosquittoMqtt*>(obj);
  // libmosquitto's own chatter (packets sent and received) is for debugging only.
  if (level == MOSQ_LOG_DEBUG && !self->log_->enabled(hearth::LogLevel::Debug)) return;
  self->log_->printf(hearth::LogLevel::Debug, "libmosquitto: %s", text);
}

}  // namespace hearth_host
