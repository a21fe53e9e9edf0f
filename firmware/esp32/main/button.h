// The board's push button: an edge interrupt only counts edges; the app task debounces (the level must be
// stable for 50 ms) and measures how long the button is held.
#pragma once

#include <stdint.h>

class Button {
 public:
  enum class Action : uint8_t { None, ShortPress, LongPress };

  // Input with pull-up (the button connects the pin to ground) and an any-edge interrupt.
  // False when the pin cannot be used (logged); poll() then reports nothing.
  bool init(int pin);
  // Call every few milliseconds from the app task. ShortPress on a release before 10 s; LongPress once
  // while the button has been held for 10 s.
  Action poll(uint64_t now_ms);

 private:
  int pin_ = -1;
  uint32_t seen_edges_ = 0;
  bool pending_ = false;
  bool pressed_ = false;
  bool long_reported_ = false;
  uint64_t edge_ms_ = 0;
  uint64_t pressed_since_ms_ = 0;
};
