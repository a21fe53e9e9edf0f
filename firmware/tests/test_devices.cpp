// The device models: what each drives on the board, how covers travel, how the thermostat holds its set
// point, when sensors report, and what a local button does (protocol §7, §8).
#include <string>

#include "rig.h"
#include "runner.h"

using hearth::DeviceKind;
using hearth::kNoPin;

namespace {

std::string set(const char* id, const char* dev, const std::string& params) {
  return std::string(R"({"id":")") + id + R"(","op":"set","dev":")" + dev + R"(","params":)" + params + "}";
}

struct Board : Rig {
  Board() {
    add_standard_devices();
    CHECK(begin());
    online();
  }
};

}  // namespace

TEST(a_switch_and_an_outlet_drive_their_relay_pins) {
  Board rig;
  // Both start off, and say so on their pins at boot.
  Rig fresh;
  fresh.add(DeviceKind::Switch, "relay", 5);
  fresh.add(DeviceKind::Outlet, "outlet", 4);
  CHECK(fresh.begin());
  CHECK(fresh.gpio.level.count(5) == 1 && !fresh.gpio.level[5]);
  CHECK(fresh.gpio.level.count(4) == 1 && !fresh.gpio.level[4]);

  CHECK_STR(rig.command(set("sw1", "relay", R"({"on":true})")).str("status"), "ok");
  CHECK(rig.gpio.level[5]);
  CHECK_STR(rig.command(set("sw2", "relay", R"({"on":false})")).str("status"), "ok");
  CHECK(!rig.gpio.level[5]);
  CHECK_STR(rig.command(set("ou1", "outlet", R"({"on":true})")).str("status"), "ok");
  CHECK(rig.gpio.level[4]);
}

TEST(a_light_dims_through_pwm_in_per_mille) {
  Board rig;
  Json res = rig.command(set("l1", "light", R"({"on":true,"brightness":60})"));
  CHECK_STR(res.keys(), "id,status,dev,state,seq");
  CHECK_EQ(rig.gpio.duty[1], 600);
  rig.command(set("l2", "light", R"({"brightness":25})"));
  CHECK_EQ(rig.gpio.duty[1], 250);
  rig.command(set("l3", "light", R"({"on":false})"));
  CHECK_EQ(rig.gpio.duty[1], 0);
  // Off, a new brightness is remembered for the next time it goes on.
  rig.command(set("l4", "light", R"({"brightness":80})"));
  CHECK_EQ(rig.gpio.duty[1], 0);
  Json on = rig.command(set("l5", "light", R"({"on":true})"));
  CHECK_EQ(rig.gpio.duty[1], 800);
  CHECK_EQ(on.get("state").num("brightness"), 80.0);
}

TEST(identify_blinks_a_light_a_few_times_without_changing_its_state) {
  Board rig;
  size_t states = rig.mqtt.count("/d/light/state");
  size_t first = rig.gpio.pwms.size();
  Json res = rig.command(R"({"id":"Ac4Tn6Rb8Ue0Wo2Q","op":"identify","dev":"light"})");
  CHECK_STR(res.str("status"), "ok");
  CHECK(!res.get("state").truth("on"));
  CHECK_EQ(res.get("state").num("brightness"), 100.0);
  rig.advance(3000);
  std::string pattern;
  for (size_t i = first; i < rig.gpio.pwms.size(); ++i) pattern += std::to_string(rig.gpio.pwms[i].second) + " ";
  CHECK_STR(pattern, "1000 0 1000 0 1000 0 ");
  CHECK_EQ(rig.gpio.duty[1], 0);
  CHECK_EQ(rig.mqtt.count("/d/light/state"), states);
}

TEST(identify_on_a_lit_light_blinks_dark_and_ends_lit) {
  Board rig;
  rig.command(set("il1", "light", R"({"on":true,"brightness":40})"));
  size_t first = rig.gpio.pwms.size();
  rig.command(R"({"id":"il2","op":"identify","dev":"light"})");
  rig.advance(3000);
  std::string pattern;
  for (size_t i = first; i < rig.gpio.pwms.size(); ++i) pattern += std::to_string(rig.gpio.pwms[i].second) + " ";
  CHECK_STR(pattern, "0 400 0 400 0 400 ");
}

TEST(a_lock_starts_locked_and_reports_where_its_bolt_is) {
  Board rig;
  Json state = rig.last("/d/lock/state");
  CHECK(state.truth("locked"));
  CHECK_STR(state.str("lock_state"), "locked");
  Json res = rig.command(set("lk1", "lock", R"({"locked":false})"));
  CHECK_STR(res.str("status"), "ok");
  CHECK_STR(res.get("state").str("lock_state"), "unlocked");
  CHECK(!rig.gpio.level[8]);
  rig.command(set("lk2", "lock", R"({"locked":true})"));
  CHECK(rig.gpio.level[8]);
  CHECK_STR(rig.last("/d/lock/state").str("lock_state"), "locked");
}

TEST(a_cover_answers_accepted_travels_over_time_and_reports_where_it_stopped) {
  Board rig;
  size_t states = rig.mqtt.count("/d/door/state");
  Json res = rig.command(R"({"id":"Pq1Wn3Ez5Rt7Yu9I","op":"set","dev":"door","params":{"position":100}})");
  CHECK_STR(res.str("status"), "accepted");
  CHECK_EQ(res.get("state").num("position"), 0.0);
  CHECK_STR(res.get("state").str("moving"), "opening");
  CHECK_EQ(rig.mqtt.count("/d/door/state"), states + 1);
  CHECK(rig.gpio.level[6]);
  CHECK(!rig.gpio.level[7]);
  rig.advance(5000);
  // Half-way: no state message, but a get sees the position.
  CHECK_EQ(rig.mqtt.count("/d/door/state"), states + 1);
  Json mid = rig.command(R"({"id":"mid1","op":"get","dev":"door"})");
  CHECK_EQ(mid.get("state").num("position"), 50.0);
  CHECK_STR(mid.get("state").str("moving"), "opening");
  size_t before_arrival = rig.mqtt.count("/d/door/state");
  rig.advance(4990);
  CHECK_EQ(rig.mqtt.count("/d/door/state"), before_arrival);
  rig.advance(10);
  CHECK_EQ(rig.mqtt.count("/d/door/state"), before_arrival + 1);
  Json done = rig.last("/d/door/state");
  CHECK_EQ(done.num("position"), 100.0);
  CHECK_STR(done.str("moving"), "stopped");
  CHECK(!rig.gpio.level[6]);
  CHECK(!rig.gpio.level[7]);
}

TEST(a_cover_closes_with_the_other_motor_in_its_own_travel_time) {
  Rig rig;
  hearth::DeviceSpec spec = hearth::device_spec(DeviceKind::Cover, "blind", "Bedroom blind");
  spec.output_pin = 10;
  spec.output_pin2 = 11;
  spec.travel_ms = 2000;
  spec.device_class = "blind";
  CHECK(rig.node->add_device(spec));
  CHECK(rig.begin());
  rig.online();
  rig.command(R"({"id":"c1","op":"set","dev":"blind","params":{"position":100}})");
  rig.advance(2000);
  CHECK_EQ(rig.last("/d/blind/state").num("position"), 100.0);
  Json res = rig.command(R"({"id":"c2","op":"set","dev":"blind","params":{"position":25}})");
  CHECK_STR(res.get("state").str("moving"), "closing");
  CHECK(!rig.gpio.level[10]);
  CHECK(rig.gpio.level[11]);
  rig.advance(1500);
  Json done = rig.last("/d/blind/state");
  CHECK_EQ(done.num("position"), 25.0);
  CHECK_STR(done.str("moving"), "stopped");
  CHECK(!rig.gpio.level[11]);
}

TEST(the_cover_motors_are_never_both_on) {
  Board rig;
  rig.command(set("m1", "door", R"({"position":100})"));
  rig.advance(3000);
  rig.command(set("m2", "door", R"({"position":0})"));  // reverses at 30 %
  rig.advance(4000);
  bool open = false, close = false;
  for (const auto& w : rig.gpio.writes) {
    if (w.first == 6) open = w.second;
    if (w.first == 7) close = w.second;
    CHECK(!(open && close));
  }
}

TEST(stop_leaves_a_cover_where_it_is) {
  Board rig;
  rig.command(set("st1", "door", R"({"position":100})"));
  rig.advance(3000);
  Json res = rig.command(R"({"id":"Yh7Kp2Wd9FgQ1zLm","op":"stop","dev":"door"})");
  CHECK_STR(res.str("status"), "ok");
  CHECK_EQ(res.get("state").num("position"), 30.0);
  CHECK_STR(res.get("state").str("moving"), "stopped");
  CHECK_STR(rig.last("/d/door/state").str("moving"), "stopped");
  CHECK(!rig.gpio.level[6]);
  rig.advance(10000);
  CHECK_EQ(rig.command(R"({"id":"st2","op":"get","dev":"door"})").get("state").num("position"), 30.0);
}

TEST(a_set_to_the_current_position_is_ok_and_does_not_move) {
  Board rig;
  size_t writes = rig.gpio.writes.size();
  Json res = rig.command(set("cp1", "door", R"({"position":0})"));
  CHECK_STR(res.str("status"), "ok");
  CHECK_STR(res.get("state").str("moving"), "stopped");
  for (size_t i = writes; i < rig.gpio.writes.size(); ++i) CHECK(!rig.gpio.writes[i].second);
}

TEST(a_new_position_while_moving_retargets_from_where_the_cover_is) {
  Board rig;
  rig.command(set("rt1", "door", R"({"position":100})"));
  rig.advance(3000);  // at 30
  Json res = rig.command(set("rt2", "door", R"({"position":10})"));
  CHECK_STR(res.str("status"), "accepted");
  CHECK_EQ(res.get("state").num("position"), 30.0);
  CHECK_STR(res.get("state").str("moving"), "closing");
  rig.advance(1990);
  CHECK_STR(rig.last("/d/door/state").str("moving"), "closing");
  rig.advance(10);
  Json done = rig.last("/d/door/state");
  CHECK_EQ(done.num("position"), 10.0);
  CHECK_STR(done.str("moving"), "stopped");
}

TEST(a_thermostat_heats_below_the_set_point_with_hysteresis) {
  Rig rig;
  rig.add(DeviceKind::Thermostat, "heat", 9, kNoPin, kNoPin, 1);
  rig.settings.sensor_interval_ms = 1000;
  rig.sensors.set(1, 19.8f, 40);
  CHECK(rig.begin());
  rig.online();
  Json res = rig.command(set("th1", "heat", R"({"mode":"heat","target_c":20})"));
  CHECK_STR(res.str("status"), "ok");
  CHECK_EQ(res.get("state").num("current_c"), 19.8);
  CHECK(!rig.gpio.level[9]);  // 19.8 is within 0.3 of 20: keep what it was (off)
  const struct {
    float reading;
    bool heater;
  } steps[] = {{19.6f, true}, {20.0f, true}, {20.2f, true}, {20.3f, false}, {19.9f, false}, {19.7f, false},
               {19.6f, true}};
  for (const auto& s : steps) {
    rig.sensors.set(1, s.reading, 40);
    rig.advance(1000);
    CHECK_EQ(rig.gpio.level[9], s.heater);
  }
  rig.command(set("th2", "heat", R"({"mode":"off"})"));
  CHECK(!rig.gpio.level[9]);
}

TEST(a_thermostat_takes_half_degrees_within_5_to_30_and_reports_its_reading) {
  Rig rig;
  rig.add(DeviceKind::Thermostat, "heat", 9, kNoPin, kNoPin, 1);
  rig.sensors.set(1, 21.44f, 40);
  CHECK(rig.begin());
  rig.online();
  Json state = rig.last("/d/heat/state");
  CHECK_STR(state.keys(), "mode,target_c,current_c,seq");
  CHECK_STR(state.str("mode"), "off");
  CHECK_EQ(state.num("target_c"), 20.0);
  CHECK_EQ(state.num("current_c"), 21.4);
  CHECK_EQ(rig.command(set("tt1", "heat", R"({"target_c":21.5})")).get("state").num("target_c"), 21.5);
  CHECK_STR(rig.command(set("tt2", "heat", R"({"target_c":4.5})")).str("status"), "out_of_range");
  CHECK_STR(rig.command(set("tt3", "heat", R"({"target_c":5})")).str("status"), "ok");
}

TEST(a_thermostat_without_a_reading_leaves_current_c_out_and_does_not_heat) {
  Rig rig;
  rig.add(DeviceKind::Thermostat, "heat", 9, kNoPin, kNoPin, 1);
  CHECK(rig.begin());
  rig.online();
  Json state = rig.last("/d/heat/state");
  CHECK(!state.has("current_c"));
  rig.command(set("nr1", "heat", R"({"mode":"heat","target_c":30})"));
  CHECK(!rig.gpio.level[9]);
}

TEST(a_sensor_reports_its_first_reading_then_only_meaningful_changes) {
  Rig rig;
  rig.add(DeviceKind::Sensor, "temp", kNoPin, kNoPin, kNoPin, 0);
  rig.settings.sensor_interval_ms = 10000;
  rig.sensors.set(0, 21.44f, 48.46f);
  CHECK(rig.begin());
  rig.online();
  Json first = rig.last("/d/temp/state");
  CHECK_STR(first.keys(), "temperature_c,humidity_pct,seq");
  CHECK_EQ(first.num("temperature_c"), 21.4);
  CHECK_EQ(first.num("humidity_pct"), 48.5);
  size_t n = rig.mqtt.count("/d/temp/state");
  const struct {
    float t, h;
  } steps[] = {
      {21.46f, 48.6f},  // 21.5 °C vs the 21.4 published: +0.1 → published
      {21.52f, 48.9f},  // still 21.5; humidity +0.3 since 48.6 → nothing
      {21.5f, 49.1f},   // humidity +0.5 since 48.6 → published
      {21.5f, 49.3f},   // +0.2 → nothing
      {21.3f, 49.3f},   // −0.2 °C → published
  };
  const bool expected[] = {true, false, true, false, true};
  int i = 0;
  for (const auto& s : steps) {
    rig.sensors.set(0, s.t, s.h);
    rig.advance(10000, 100);
    size_t now = rig.mqtt.count("/d/temp/state");
    CHECK_EQ(now, n + (expected[i] ? 1 : 0));
    n = now;
    ++i;
  }
  Json last = rig.last("/d/temp/state");
  CHECK_EQ(last.num("temperature_c"), 21.3);
  CHECK_EQ(last.num("humidity_pct"), 49.3);
}

TEST(a_failed_sensor_read_keeps_the_last_values) {
  Rig rig;
  rig.add(DeviceKind::Sensor, "temp", kNoPin, kNoPin, kNoPin, 0);
  rig.settings.sensor_interval_ms = 1000;
  rig.sensors.set(0, 22.0f, 50.0f);
  CHECK(rig.begin());
  rig.online();
  size_t n = rig.mqtt.count("/d/temp/state");
  int reads = rig.sensors.reads;
  rig.sensors.fail(0);
  rig.advance(5000);
  CHECK(rig.sensors.reads >= reads + 5);  // it kept trying, on its interval
  CHECK_EQ(rig.mqtt.count("/d/temp/state"), n);
  Json got = rig.command(R"({"id":"fr1","op":"get","dev":"temp"})");
  CHECK_EQ(got.get("state").num("temperature_c"), 22.0);
  CHECK_EQ(got.get("state").num("humidity_pct"), 50.0);
}

TEST(a_sensor_reads_on_its_interval_only) {
  Rig rig;
  rig.add(DeviceKind::Sensor, "temp", kNoPin, kNoPin, kNoPin, 0);
  rig.settings.sensor_interval_ms = 10000;
  rig.sensors.set(0, 22.0f, 50.0f);
  CHECK(rig.begin());
  CHECK_EQ(rig.sensors.reads, 1);  // at begin, so the first announcement carries a reading
  rig.advance(9990);
  CHECK_EQ(rig.sensors.reads, 1);
  rig.advance(10);
  CHECK_EQ(rig.sensors.reads, 2);
}

TEST(a_sensor_that_never_read_leaves_its_values_out) {
  Rig rig;
  rig.add(DeviceKind::Sensor, "temp", kNoPin, kNoPin, kNoPin, 0);
  CHECK(rig.begin());
  rig.online();
  CHECK_STR(rig.last("/d/temp/state").keys(), "seq");
}

TEST(a_fan_runs_at_its_speed_through_pwm) {
  Board rig;
  CHECK_STR(rig.command(set("f1", "fan", R"({"on":true,"speed_pct":40})")).str("status"), "ok");
  CHECK_EQ(rig.gpio.duty[2], 400);
  rig.command(set("f2", "fan", R"({"speed_pct":0})"));
  CHECK_EQ(rig.gpio.duty[2], 0);
  rig.command(set("f3", "fan", R"({"speed_pct":100})"));
  CHECK_EQ(rig.gpio.duty[2], 1000);
  rig.command(set("f4", "fan", R"({"on":false})"));
  CHECK_EQ(rig.gpio.duty[2], 0);
}

TEST(a_button_press_toggles_and_publishes_the_state_without_an_answer) {
  Board rig;
  size_t responses = rig.responses();
  CHECK(rig.node->press("relay"));
  CHECK(rig.gpio.level[5]);
  CHECK(rig.last("/d/relay/state").truth("on"));
  CHECK(rig.node->press("relay"));
  CHECK(!rig.gpio.level[5]);
  CHECK(rig.node->press("light"));
  CHECK_EQ(rig.gpio.duty[1], 1000);
  CHECK(rig.node->press("fan"));
  CHECK_EQ(rig.gpio.duty[2], 1000);
  CHECK(rig.node->press("outlet"));
  CHECK(rig.gpio.level[4]);
  CHECK(rig.node->press("lock"));
  CHECK_STR(rig.last("/d/lock/state").str("lock_state"), "unlocked");
  CHECK(!rig.node->press("temp"));
  CHECK(!rig.node->press("heat"));
  CHECK(!rig.node->press("nosuch"));
  CHECK_EQ(rig.responses(), responses);
}

TEST(a_cover_button_opens_when_closed_stops_when_moving_and_closes_otherwise) {
  Board rig;
  CHECK(rig.node->press("door"));
  CHECK_STR(rig.last("/d/door/state").str("moving"), "opening");
  rig.advance(4000);
  CHECK(rig.node->press("door"));
  Json stopped = rig.last("/d/door/state");
  CHECK_STR(stopped.str("moving"), "stopped");
  CHECK_EQ(stopped.num("position"), 40.0);
  CHECK(rig.node->press("door"));
  CHECK_STR(rig.last("/d/door/state").str("moving"), "closing");
  rig.advance(4000);
  Json closed = rig.last("/d/door/state");
  CHECK_EQ(closed.num("position"), 0.0);
  CHECK_STR(closed.str("moving"), "stopped");
}

TEST(devices_without_wiring_keep_their_state_in_memory) {
  Rig rig;
  rig.add(DeviceKind::Switch, "virt");
  rig.add(DeviceKind::Light, "vlight");
  CHECK(rig.begin());
  rig.online();
  CHECK(rig.command(set("v1", "virt", R"({"on":true})")).get("state").truth("on"));
  CHECK(rig.command(set("v2", "vlight", R"({"on":true,"brightness":10})")).get("state").truth("on"));
  CHECK(rig.gpio.writes.empty());
  CHECK(rig.gpio.pwms.empty());
}
