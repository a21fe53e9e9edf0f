// Mqtt port over libmosquitto: MQTT 3.1.1, clean session, TCP_NODELAY, the will set before every CONNECT,
// mqtt:// and mqtts:// (with the node's CA when it has one, else the system's CAs).
//
// libmosquitto's callbacks run inside mosquitto_loop(), which the main loop calls on the core's thread, so they
// call straight into the hearth::Node. What libmosquitto would report inside one of the node's own calls (a
// failed disconnect, a connect the node asked for from inside a callback) is held back and delivered from the
// next service() instead: the node is never re-entered.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "ports.h"
#include "stderr_log.h"

struct mosquitto;
struct mosquitto_message;

namespace hearth_host {

class MosquittoMqtt final : public hearth::Mqtt {
 public:
  // ca_file: where a CA given as PEM text is written for libmosquitto, which only reads CAs from files.
  MosquittoMqtt(StderrLog* log, const char* ca_file);
  ~MosquittoMqtt();
  MosquittoMqtt(const MosquittoMqtt&) = delete;
  MosquittoMqtt& operator=(const MosquittoMqtt&) = delete;

  bool init();
  void set_node(hearth::Node* node) { node_ = node; }

  // The main loop's part. True while there is a socket that service() waits on (up to timeout_ms).
  bool has_socket() const;
  // Runs held-back work, then one round of mosquitto_loop() waiting at most timeout_ms on the socket.
  void service(int timeout_ms);
  // True from connect() until the node has been told the connection is gone.
  bool active() const { return session_ != Session::Idle; }
  // Closes everything and releases the library: before a restart re-executes the program, and at exit.
  void release();

  bool connect(const hearth::MqttConnectParams& params) override;
  void disconnect() override;
  int publish(const char* topic, const void* payload, size_t len, int qos, bool retain) override;
  int subscribe(const char* topic, int qos) override;

 private:
  enum class Session : uint8_t { Idle, Connecting, Connected };

  // What connect() was asked for, copied: a connect may start later than the call.
  struct Params {
    char uri[160];
    char client_id[40];
    char username[64];
    char password[128];
    bool has_password;
    bool has_ca;
    uint16_t keepalive_s;
    char will_topic[160];
    char will_payload[64];
    int will_qos;
    bool will_retain;
  };

  bool start();
  // Connecting, and the attempt has failed in a way libmosquitto does not report promptly.
  bool connect_failed();
  void destroy_client();
  void report_lost();
  bool is_qos0_mid(int mid);

  static void on_connect(struct mosquitto* mosq, void* obj, int rc);
  static void on_disconnect(struct mosquitto* mosq, void* obj, int rc);
  static void on_publish(struct mosquitto* mosq, void* obj, int mid);
  static void on_subscribe(struct mosquitto* mosq, void* obj, int mid, int qos_count, const int* granted_qos);
  static void on_message(struct mosquitto* mosq, void* obj, const struct mosquitto_message* message);
  static void on_log(struct mosquitto* mosq, void* obj, int level, const char* text);

  StderrLog* log_;
  char ca_file_[600] = {};
  hearth::Node* node_ = nullptr;
  struct mosquitto* mosq_ = nullptr;
  bool lib_ready_ = false;

  Params params_ = {};
  Session session_ = Session::Idle;
  bool refused_ = false;          // the CONNACK refused: that is the attempt's outcome, not the disconnect after it
  bool start_pending_ = false;    // connect() asked for from inside a callback
  bool lost_pending_ = false;     // a loss to report from service()
  int in_callback_ = 0;
  // The CONNECT's deadline, like the HTTP connect timeout: the core has none of its own.
  static constexpr uint64_t kConnackTimeoutMs = 10000;
  uint64_t connect_started_ms_ = 0;

  // QoS 0 publishes get a message id from libmosquitto and an on_publish when written. The node only knows QoS 1
  // ids, so the QoS 0 ones are remembered and filtered out.
  static constexpr int kQos0Ring = 32;
  int qos0_mids_[kQos0Ring] = {};
  int qos0_next_ = 0;
  bool in_qos0_publish_ = false;
  bool in_disconnect_ = false;
};

}  // namespace hearth_host
