// The announcement (protocol §5): config, every device's state, then `online` last, each sent only after the
// previous one's PUBACK, so the bridge never sees a state before the config that declares its device, nor
// `online` before the states it will compare against. One announcement at a time: a request while one runs
// (the bridge's live `online`) queues exactly one more, started when the current one is done.
#pragma once

namespace hearth {

// The node publishes each part; each call returns the message id (> 0) of a QoS 1 publish, or < 0 when it
// could not be queued (tried again on the next pump).
class AnnounceSink {
 public:
  virtual int announce_config() = 0;
  virtual int announce_state(int device_index) = 0;
  virtual int announce_online() = 0;

 protected:
  ~AnnounceSink() = default;
};

class Announcer {
 public:
  enum class Ack : unsigned char { Ignored, Progress, Completed };

  void init(int device_count) { device_count_ = device_count; }
  // Starts an announcement, or queues one more if one is running.
  void request(AnnounceSink& sink);
  // The link went down: whatever was going on is void (the next CONNACK starts afresh).
  void reset();
  // A PUBACK. Completed when it was for `online`: the node is announced. A queued one then starts.
  Ack acked(int message_id, AnnounceSink& sink);
  // Retries a part that could not be queued.
  void pump(AnnounceSink& sink);
  bool running() const { return running_; }

 private:
  void send_next(AnnounceSink& sink);

  int device_count_ = 0;
  bool running_ = false;
  bool queued_ = false;
  int next_part_ = 0;  // 0: config, 1..n: states, n + 1: online
  int waiting_for_ = 0;
};

}  // namespace hearth
