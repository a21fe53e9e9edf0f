// The config message the bridge builds its device list from (protocol §6, §7), and telemetry (§14).
#include <string>

#include "rig.h"
#include "runner.h"

using hearth::DeviceKind;
using hearth::kNoPin;

namespace {

bool is_hex8(const std::string& s) {
  if (s.size() != 8) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string config_of(Rig& rig) {
  rig.online();
  return rig.mqtt.last_payload("/config");
}

}  // namespace

TEST(the_config_carries_the_node_its_firmware_hardware_devices_and_services) {
  Rig rig;
  rig.settings.name = "Kitchen board";
  rig.settings.fw_version = "1.4.2";
  rig.settings.fw_build = "2026-11-20T10:00:00Z";
  rig.settings.hw_model = "hearth-relay-2ch";
  rig.settings.chip = "esp32c3";
  rig.settings.mac = "3c:61:05:4a:1b:2c";
  hearth::DeviceSpec light = hearth::device_spec(DeviceKind::Light, "light", "Ceiling");
  light.pwm_channel = 1;
  CHECK(rig.node->add_device(light));
  CHECK(rig.add(DeviceKind::Sensor, "temp", kNoPin, kNoPin, kNoPin, 0));
  CHECK(rig.begin());
  Json c(config_of(rig));
  CHECK_STR(c.keys(), "node_id,proto,cfg_hash,name,fw,hw,devices,services");
  CHECK_STR(c.str("node_id"), "esp-test01");
  CHECK_EQ(c.num("proto"), 1.0);
  CHECK(is_hex8(c.str("cfg_hash")));
  CHECK_STR(c.str("name"), "Kitchen board");
  CHECK_STR(c.get("fw").str("version"), "1.4.2");
  CHECK_STR(c.get("fw").str("build"), "2026-11-20T10:00:00Z");
  CHECK_STR(c.get("hw").str("model"), "hearth-relay-2ch");
  CHECK_STR(c.get("hw").str("chip"), "esp32c3");
  CHECK_STR(c.get("hw").str("mac"), "3c:61:05:4a:1b:2c");
  CHECK_EQ(c.get("devices").size(), 2);
  View d0 = c.get("devices").at(0);
  CHECK_STR(d0.keys(), "id,type,name,params");
  CHECK_STR(d0.str("id"), "light");
  CHECK_STR(d0.str("type"), "light");
  CHECK_STR(d0.str("name"), "Ceiling");
  View on = d0.get("params").at(0);
  CHECK_STR(on.keys(), "id,type,rw");
  CHECK_STR(on.str("id"), "on");
  CHECK_STR(on.str("type"), "bool");
  CHECK_STR(on.str("rw"), "rw");
  View brightness = d0.get("params").at(1);
  CHECK_STR(brightness.keys(), "id,type,rw,min,max,unit");
  CHECK_EQ(brightness.num("min"), 1.0);
  CHECK_EQ(brightness.num("max"), 100.0);
  CHECK_STR(brightness.str("unit"), "%");
  View d1 = c.get("devices").at(1);
  CHECK_STR(d1.keys(), "id,type,params");  // no name given: none sent
  CHECK_STR(d1.get("params").at(0).str("id"), "temperature_c");
  CHECK_STR(d1.get("params").at(0).str("type"), "float");
  CHECK_STR(d1.get("params").at(0).str("rw"), "r");
  CHECK_STR(d1.get("params").at(0).str("unit"), "\xC2\xB0" "C");
  CHECK_STR(d1.get("params").at(1).str("id"), "humidity_pct");
  View services = c.get("services");
  CHECK(services.truth("identify"));
  CHECK(services.truth("reboot"));
  CHECK(services.truth("ota"));
}

TEST(absent_optional_fields_are_left_out_and_the_version_defaults_to_the_running_image) {
  Rig rig;
  rig.firmware.running = "2.0.1";
  CHECK(rig.begin());
  Json c(config_of(rig));
  CHECK_STR(c.keys(), "node_id,proto,cfg_hash,fw,devices,services");
  CHECK_STR(c.get("fw").keys(), "version");
  CHECK_STR(c.get("fw").str("version"), "2.0.1");
  CHECK_EQ(c.get("devices").size(), 0);
}

TEST(every_device_type_declares_its_canonical_params) {
  Rig rig;
  rig.add_standard_devices();
  CHECK(rig.begin());
  Json c(config_of(rig));
  std::string summary;
  View devices = c.get("devices");
  for (int i = 0; i < devices.size(); ++i) {
    View d = devices.at(i);
    summary += d.str("id") + ":" + d.str("type") + "(";
    for (int j = 0; j < d.get("params").size(); ++j) {
      View p = d.get("params").at(j);
      summary += (j ? " " : "") + p.str("id") + "/" + p.str("type") + "/" + p.str("rw");
    }
    summary += ") ";
  }
  CHECK_STR(summary,
            "relay:switch(on/bool/rw) outlet:outlet(on/bool/rw) light:light(on/bool/rw brightness/int/rw) "
            "door:cover(position/int/rw moving/enum/r) lock:lock(locked/bool/rw lock_state/enum/r) "
            "heat:thermostat(mode/enum/rw target_c/float/rw current_c/float/r) "
            "fan:fan(on/bool/rw speed_pct/int/rw) temp:sensor(temperature_c/float/r humidity_pct/float/r) ");
}

TEST(enum_params_list_their_values_and_the_set_point_its_range_and_step) {
  Rig rig;
  rig.add_standard_devices();
  CHECK(rig.begin());
  Json c(config_of(rig));
  View door = c.get("devices").at(3);
  View moving = door.get("params").at(1);
  CHECK_STR(moving.keys(), "id,type,rw,values");
  CHECK_EQ(moving.get("values").size(), 3);
  CHECK_STR(cJSON_GetArrayItem(moving.get("values").item(), 0)->valuestring, "opening");
  CHECK_STR(cJSON_GetArrayItem(moving.get("values").item(), 2)->valuestring, "stopped");
  View lock_state = c.get("devices").at(4).get("params").at(1);
  CHECK_EQ(lock_state.get("values").size(), 3);
  CHECK_STR(cJSON_GetArrayItem(lock_state.get("values").item(), 2)->valuestring, "jammed");
  View heat = c.get("devices").at(5);
  View mode = heat.get("params").at(0);
  CHECK_EQ(mode.get("values").size(), 2);
  View target = heat.get("params").at(1);
  CHECK_STR(target.keys(), "id,type,rw,min,max,step,unit");
  CHECK_EQ(target.num("min"), 5.0);
  CHECK_EQ(target.num("max"), 30.0);
  CHECK_EQ(target.num("step"), 0.5);
  CHECK_STR(target.str("unit"), "\xC2\xB0" "C");
}

TEST(only_covers_carry_a_class) {
  Rig rig;
  hearth::DeviceSpec door = hearth::device_spec(DeviceKind::Cover, "door", "Garage door");
  door.device_class = "garage";
  hearth::DeviceSpec relay = hearth::device_spec(DeviceKind::Switch, "relay", nullptr);
  relay.device_class = "garage";  // meaningless on a switch: left out
  hearth::DeviceSpec blind = hearth::device_spec(DeviceKind::Cover, "blind", nullptr);
  CHECK(rig.node->add_device(door));
  CHECK(rig.node->add_device(relay));
  CHECK(rig.node->add_device(blind));
  CHECK(rig.begin());
  Json c(config_of(rig));
  CHECK_STR(c.get("devices").at(0).str("class"), "garage");
  CHECK_STR(c.get("devices").at(0).keys(), "id,type,name,class,params");
  CHECK(!c.get("devices").at(1).has("class"));
  CHECK(!c.get("devices").at(2).has("class"));
}

TEST(cfg_hash_is_stable_for_the_same_content_and_changes_with_it) {
  auto hash_for = [](const char* name, const char* version) {
    Rig rig;
    rig.settings.name = name;
    rig.settings.fw_version = version;
    rig.add(DeviceKind::Switch, "relay", 5);
    CHECK(rig.begin());
    return Json(config_of(rig)).str("cfg_hash");
  };
  std::string a = hash_for("Kitchen", "1.0.0");
  CHECK(is_hex8(a));
  CHECK_STR(hash_for("Kitchen", "1.0.0"), a);
  CHECK(hash_for("Kitchen2", "1.0.0") != a);
  CHECK(hash_for("Kitchen", "1.0.1") != a);
}

TEST(the_config_is_republished_unchanged_with_every_announcement) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  std::string first = config_of(rig);
  rig.send("bridge/status", "online");
  rig.ack_all();
  CHECK_EQ(rig.mqtt.count("/config"), 2u);
  CHECK_STR(rig.mqtt.last_payload("/config"), first);
}

TEST(a_full_board_with_long_names_fits_the_4096_byte_config) {
  Rig rig;
  const DeviceKind kinds[] = {DeviceKind::Thermostat, DeviceKind::Cover, DeviceKind::Lock, DeviceKind::Light,
                              DeviceKind::Fan, DeviceKind::Sensor, DeviceKind::Switch, DeviceKind::Outlet};
  const char* ids[] = {"abcdefghijklmnopqrstuvwxyz_thrm1", "abcdefghijklmnopqrstuvwxyz_cover", "abcdefghijklmnopqrstuvwxyz_lock1",
                       "abcdefghijklmnopqrstuvwxyz_light", "abcdefghijklmnopqrstuvwxyz_fan01", "abcdefghijklmnopqrstuvwxyz_sens1",
                       "abcdefghijklmnopqrstuvwxyz_swtch", "abcdefghijklmnopqrstuvwxyz_outlt"};
  std::string long_name(64, 'N');
  for (int i = 0; i < 8; ++i) {
    hearth::DeviceSpec spec = hearth::device_spec(kinds[i], ids[i], long_name.c_str());
    if (kinds[i] == DeviceKind::Cover) spec.device_class = "curtain";
    CHECK(rig.node->add_device(spec));
  }
  rig.settings.name = long_name.c_str();
  rig.settings.fw_version = "12345678901234567890123456789012";
  rig.settings.fw_build = "1234567890123456789012345678901234567890";
  CHECK(rig.begin());
  std::string config = config_of(rig);
  CHECK(!config.empty());
  CHECK(config.size() <= 4096);
  CHECK_EQ(Json(config).get("devices").size(), 8);
}

TEST(state_messages_are_flat_retained_and_carry_every_declared_value) {
  Rig rig;
  rig.add_standard_devices();
  rig.sensors.set(0, 20.0f, 45.0f);
  CHECK(rig.begin());
  rig.online();
  for (const char* dev : {"relay", "outlet", "light", "door", "lock", "heat", "fan", "temp"}) {
    auto states = rig.mqtt.on(std::string("/d/") + dev + "/state");
    CHECK_EQ(states.size(), 1u);
    CHECK(states.back().retain);
    CHECK(states.back().payload.size() <= 1024);
    Json s(states.back().payload);
    for (const cJSON* v = s.item()->child; v != nullptr; v = v->next) {
      CHECK(cJSON_IsBool(v) || cJSON_IsNumber(v) || cJSON_IsString(v));
    }
  }
  CHECK_STR(rig.last("/d/light/state").keys(), "on,brightness,seq");
  CHECK_STR(rig.last("/d/door/state").keys(), "position,moving,seq");
  CHECK_STR(rig.last("/d/lock/state").keys(), "locked,lock_state,seq");
  CHECK_STR(rig.last("/d/fan/state").keys(), "on,speed_pct,seq");
}

TEST(telemetry_goes_out_every_interval_while_online) {
  Rig rig;
  rig.settings.telemetry_interval_ms = 60000;
  CHECK(rig.begin());
  rig.online();
  rig.advance(59990, 1000);
  CHECK_EQ(rig.mqtt.count("/telemetry"), 0u);
  rig.advance(10);
  CHECK_EQ(rig.mqtt.count("/telemetry"), 1u);
  const fakes::Publish t = rig.mqtt.on("/telemetry").back();
  CHECK_STR(t.topic, "hearth/v1/esp-test01/telemetry");
  CHECK_EQ(t.qos, 0);
  CHECK(!t.retain);
  Json j(t.payload);
  CHECK_STR(j.keys(), "rssi,heap,uptime_s,ip");
  CHECK_EQ(j.num("rssi"), -61.0);
  CHECK_EQ(j.num("heap"), 143000.0);
  CHECK_EQ(j.num("uptime_s"), 61.0);
  CHECK_STR(j.str("ip"), "192.168.1.40");
  rig.advance(120000, 1000);
  CHECK_EQ(rig.mqtt.count("/telemetry"), 3u);
}

TEST(telemetry_leaves_out_a_missing_signal_and_address) {
  Rig rig;
  rig.platform.signal = 0;
  rig.platform.address = "";
  rig.settings.telemetry_interval_ms = 1000;
  CHECK(rig.begin());
  rig.online();
  rig.advance(1000);
  CHECK_STR(rig.last("/telemetry").keys(), "heap,uptime_s");
}

TEST(no_telemetry_while_not_online) {
  Rig rig;
  rig.settings.telemetry_interval_ms = 1000;
  CHECK(rig.begin());
  rig.connect();  // announcing, never acknowledged
  rig.advance(10000);
  CHECK_EQ(rig.mqtt.count("/telemetry"), 0u);
  rig.ack_all();
  rig.node->mqtt_disconnected();
  rig.advance(400);  // in backoff
  CHECK_EQ(rig.mqtt.count("/telemetry"), 0u);
}
