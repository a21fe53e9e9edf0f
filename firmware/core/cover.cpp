// A cover without position feedback: its position is worked out from the time its motor has run
// (travel_ms for a full 0 → 100 travel). Two relays: output_pin runs the motor open, output_pin2 closed.
#include "devices.h"

namespace hearth {

namespace {

constexpr int kPosition = 0, kMoving = 1;
constexpr int kOpening = 0, kClosing = 1, kStopped = 2;

int rounded(double v) { return static_cast<int>(v + 0.5); }

}  // namespace

double Device::cover_position_at(uint64_t now_ms) const {
  if (cover_.direction == 0) return values_[kPosition].number;
  double travelled = static_cast<double>(now_ms - cover_.since_ms) * 100.0 / spec_.travel_ms;
  double p = cover_.from + cover_.direction * travelled;
  // Never past where it is going: the motor stops there.
  if (cover_.direction > 0 && p > cover_.target) p = cover_.target;
  if (cover_.direction < 0 && p < cover_.target) p = cover_.target;
  return p;
}

void Device::cover_set_state(int direction, double position) {
  cover_.direction = direction;
  values_[kPosition] = Value{true, static_cast<double>(rounded(position))};
  values_[kMoving] = Value{true, static_cast<double>(direction > 0 ? kOpening : direction < 0 ? kClosing : kStopped)};
}

void Device::cover_motors(const DevicePorts& ports) {
  // The relay that must be off is switched first, so both motor directions are never on together.
  if (cover_.direction > 0) {
    write_pin(ports, spec_.output_pin2, false);
    write_pin(ports, spec_.output_pin, true);
  } else if (cover_.direction < 0) {
    write_pin(ports, spec_.output_pin, false);
    write_pin(ports, spec_.output_pin2, true);
  } else {
    write_pin(ports, spec_.output_pin, false);
    write_pin(ports, spec_.output_pin2, false);
  }
}

Applied Device::cover_move_to(double target, const DevicePorts& ports, uint64_t now_ms) {
  double here = cover_position_at(now_ms);
  if (rounded(target) == rounded(here)) {
    // Already there: a set to the current position is answered `ok`, and stops a cover on its way past.
    if (moving()) cover_stop(ports, now_ms);
    return Applied::Ok;
  }
  int direction = target > here ? 1 : -1;
  // A new target while moving starts a new travel from wherever the cover is now.
  cover_.from = here;
  cover_.target = target;
  cover_.since_ms = now_ms;
  cover_set_state(direction, here);
  cover_motors(ports);
  return Applied::Accepted;
}

void Device::cover_stop(const DevicePorts& ports, uint64_t now_ms) {
  double here = cover_position_at(now_ms);
  cover_set_state(0, here);
  cover_motors(ports);
}

bool Device::cover_tick(const DevicePorts& ports, uint64_t now_ms) {
  if (cover_.direction == 0) return false;
  double here = cover_position_at(now_ms);
  if (here == cover_.target) {
    cover_set_state(0, here);
    cover_motors(ports);
    return true;
  }
  // On the way, the position is kept up to date for `get` and `stop`, but not published: the bridge only
  // needs to hear that the cover moves, and where it stopped.
  values_[kPosition] = Value{true, static_cast<double>(rounded(here))};
  return false;
}

}  // namespace hearth
