#include "announcer.h"

namespace hearth {

void Announcer::request(AnnounceSink& sink) {
  if (running_) {
    queued_ = true;
    return;
  }
  running_ = true;
  next_part_ = 0;
  waiting_for_ = 0;
  send_next(sink);
}

void Announcer::reset() {
  running_ = false;
  queued_ = false;
  next_part_ = 0;
  waiting_for_ = 0;
}

void Announcer::send_next(AnnounceSink& sink) {
  if (!running_ || waiting_for_ != 0) return;
  int mid;
  if (next_part_ == 0) {
    mid = sink.announce_config();
  } else if (next_part_ <= device_count_) {
    mid = sink.announce_state(next_part_ - 1);
  } else {
    mid = sink.announce_online();
  }
  if (mid > 0) waiting_for_ = mid;
}

Announcer::Ack Announcer::acked(int message_id, AnnounceSink& sink) {
  if (!running_ || message_id <= 0 || message_id != waiting_for_) return Ack::Ignored;
  waiting_for_ = 0;
  if (next_part_ <= device_count_) {
    ++next_part_;
    send_next(sink);
    return Ack::Progress;
  }
  running_ = false;
  if (queued_) {
    queued_ = false;
    request(sink);
  }
  return Ack::Completed;
}

void Announcer::pump(AnnounceSink& sink) { send_next(sink); }

}  // namespace hearth
