// What begin() and add_device() accept: ids by the protocol's patterns (§2), at most kMaxDevices, topics
// within 128 bytes; each refusal says why in the log.
#include <string>

#include "rig.h"
#include "runner.h"

using hearth::DeviceKind;

TEST(node_ids_follow_the_protocol_pattern_and_bridge_is_reserved) {
  const char* good[] = {"esp-3c61054a1b2c", "abc", "0ab", "a-b", "abcdefghijklmnopqrstuvwxyz012345"};
  for (const char* id : good) {
    Rig rig;
    rig.settings.node_id = id;
    CHECK(rig.begin());
  }
  const char* bad[] = {"ab", "Esp-1", "-abc", "esp_1", "bridge", "abcdefghijklmnopqrstuvwxyz0123456", "", "esp 1"};
  for (const char* id : bad) {
    Rig rig;
    rig.settings.node_id = id;
    CHECK(!rig.begin());
    CHECK(rig.log.contains("node id"));
    rig.node->network_up();
    CHECK_EQ(rig.mqtt.connects, 0);
  }
  Rig none;
  none.settings.node_id = nullptr;
  CHECK(!none.begin());
}

TEST(device_ids_follow_the_protocol_pattern) {
  Rig rig;
  CHECK(rig.add(DeviceKind::Switch, "relay_1"));
  CHECK(rig.add(DeviceKind::Switch, "abcdefghijklmnopqrstuvwxyz_01234"));
  const char* bad[] = {"Relay", "", "relay-1", "abcdefghijklmnopqrstuvwxyz_012345", "re lay"};
  for (const char* id : bad) {
    CHECK(!rig.add(DeviceKind::Switch, id));
  }
  CHECK(!rig.add(DeviceKind::Switch, nullptr));
  CHECK(rig.log.contains("device id"));
}

TEST(device_ids_are_unique_on_the_node) {
  Rig rig;
  CHECK(rig.add(DeviceKind::Switch, "relay"));
  CHECK(!rig.add(DeviceKind::Light, "relay"));
  CHECK(rig.log.contains("duplicate device id"));
}

TEST(a_node_holds_at_most_kmaxdevices_devices) {
  Rig rig;
  for (int i = 0; i < hearth::kMaxDevices; ++i) {
    std::string id = "dev" + std::to_string(i);
    CHECK(rig.add(DeviceKind::Switch, id.c_str()));
  }
  CHECK(!rig.add(DeviceKind::Switch, "one_more"));
  CHECK(rig.log.contains("at most 8 devices"));
  CHECK(rig.begin());
  rig.online();
  CHECK_EQ(Json(rig.mqtt.last_payload("/config")).get("devices").size(), hearth::kMaxDevices);
}

TEST(device_names_and_cover_classes_are_checked) {
  Rig rig;
  std::string name64(64, 'n');
  std::string name65(65, 'n');
  CHECK(rig.node->add_device(hearth::device_spec(DeviceKind::Light, "a", name64.c_str())));
  CHECK(!rig.node->add_device(hearth::device_spec(DeviceKind::Light, "b", name65.c_str())));
  hearth::DeviceSpec cover = hearth::device_spec(DeviceKind::Cover, "c", nullptr);
  cover.device_class = "garage_door";
  CHECK(!rig.node->add_device(cover));
  CHECK(rig.log.contains("unknown cover class"));
  cover.device_class = "gate";
  CHECK(rig.node->add_device(cover));
}

TEST(devices_are_added_before_begin_and_begin_runs_once) {
  Rig rig;
  CHECK(rig.begin());
  CHECK(!rig.add(DeviceKind::Switch, "late"));
  CHECK(rig.log.contains("before begin"));
  CHECK(!rig.begin());
  rig.node->network_up();
  CHECK_EQ(rig.mqtt.connects, 1);
}

TEST(the_broker_uri_must_be_mqtt_or_mqtts) {
  Rig rig;
  rig.settings.mqtt_uri = "tcp://broker:1883";
  CHECK(!rig.begin());
  CHECK(rig.log.contains("mqtt://"));
}

TEST(an_unusable_topic_prefix_is_refused) {
  const char* bad[] = {"hearth/#", "+/v1", "/hearth/v1", "hearth/v1/", ""};
  for (const char* prefix : bad) {
    Rig rig;
    rig.settings.topic_prefix = prefix;
    CHECK(!rig.begin());
    CHECK(rig.log.contains("topic prefix"));
  }
  Rig custom;
  custom.settings.topic_prefix = "home/hearth/v1";
  CHECK(custom.begin());
}

TEST(topics_longer_than_128_bytes_are_refused) {
  Rig rig;
  std::string prefix(60, 'p');
  rig.settings.topic_prefix = prefix.c_str();
  rig.settings.node_id = "abcdefghijklmnopqrstuvwxyz012345";
  rig.add(DeviceKind::Switch, "abcdefghijklmnopqrstuvwxyz_01234");
  CHECK(!rig.begin());
  CHECK(rig.log.contains("128 bytes"));
}

TEST(over_long_descriptive_settings_are_refused_not_cut) {
  std::string long_version(33, 'v');
  Rig rig;
  rig.settings.fw_version = long_version.c_str();
  CHECK(!rig.begin());
  CHECK(rig.log.contains("fw_version"));
  std::string long_name(65, 'n');
  Rig rig2;
  rig2.settings.name = long_name.c_str();
  CHECK(!rig2.begin());
  CHECK(rig2.log.contains("name"));
}

TEST(a_missing_port_is_named) {
  Rig rig;
  hearth::Ports ports = rig.ports();
  ports.http = nullptr;
  hearth::Node node(ports);
  CHECK(!node.begin(rig.settings));
  CHECK(rig.log.contains("http port is missing"));
}

TEST(settings_strings_may_go_away_after_begin) {
  Rig rig;
  std::string id = "esp-temp01";
  std::string uri = "mqtt://broker:1883";
  std::string dev = "relay";
  rig.settings.node_id = id.c_str();
  rig.settings.mqtt_uri = uri.c_str();
  CHECK(rig.add(DeviceKind::Switch, dev.c_str(), 5));
  CHECK(rig.begin());
  id.assign("xxxxxxxxxx");
  uri.assign("xxxxxxxxxxxxxxxxxx");
  dev.assign("xxxxx");
  rig.node->network_up();
  CHECK_STR(rig.mqtt.client_id, "esp-temp01");
  CHECK_STR(rig.mqtt.uri, "mqtt://broker:1883");
  rig.node->mqtt_connected();
  for (auto& s : rig.mqtt.subscriptions) rig.node->mqtt_subscribed(s.mid);
  rig.ack_all();
  CHECK_EQ(rig.mqtt.count("esp-temp01/d/relay/state"), 1u);
}
