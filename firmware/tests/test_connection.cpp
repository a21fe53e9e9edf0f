// Connecting, subscribing, announcing, reconnecting with backoff, the bridge's status, shutdown and reboot
// (protocol §3, §5, §13, §16).
#include "rig.h"
#include "runner.h"

using hearth::ConnState;
using hearth::DeviceKind;

namespace {

// Fails the attempt under way (the broker is unreachable) and returns the wait the node chose, found by
// moving time on 1 ms at a time until it connects again.
uint64_t wait_after_failure(Rig& rig) {
  int before = rig.mqtt.connects;
  rig.node->mqtt_disconnected();
  uint64_t start = rig.clock.ms;
  while (rig.mqtt.connects == before && rig.clock.ms - start < 200000) rig.advance(1, 1);
  return rig.clock.ms - start;
}

}  // namespace

TEST(connect_uses_node_id_as_client_id_and_username_with_an_offline_will) {
  Rig rig;
  CHECK(rig.begin());
  rig.node->network_up();
  CHECK_EQ(rig.mqtt.connects, 1);
  CHECK_STR(rig.mqtt.client_id, "esp-test01");
  CHECK_STR(rig.mqtt.username, "esp-test01");
  CHECK_STR(rig.mqtt.password, "secret");
  CHECK_STR(rig.mqtt.uri, "mqtt://broker.local:1883");
  CHECK_EQ(rig.mqtt.keepalive_s, 30);
  CHECK_STR(rig.mqtt.will_topic, "hearth/v1/esp-test01/status");
  CHECK_STR(rig.mqtt.will_payload, "offline");
  CHECK_EQ(rig.mqtt.will_qos, 1);
  CHECK(rig.mqtt.will_retain);
  CHECK(rig.node->state() == ConnState::Connecting);
}

TEST(keepalive_and_ca_come_from_the_settings) {
  Rig rig;
  rig.settings.keepalive_s = 45;
  rig.settings.ca_pem = "-----BEGIN CERTIFICATE-----";
  CHECK(rig.begin());
  rig.node->network_up();
  CHECK_EQ(rig.mqtt.keepalive_s, 45);
  CHECK(rig.mqtt.ca_pem == rig.settings.ca_pem);
}

TEST(nothing_connects_before_the_network_is_up) {
  Rig rig;
  CHECK(rig.begin());
  rig.advance(5000);
  CHECK_EQ(rig.mqtt.connects, 0);
  CHECK(rig.node->state() == ConnState::WaitingForNetwork);
  rig.node->network_up();
  CHECK_EQ(rig.mqtt.connects, 1);
}

TEST(network_up_before_begin_connects_at_begin) {
  Rig rig;
  rig.node->network_up();
  CHECK_EQ(rig.mqtt.connects, 0);
  CHECK(rig.begin());
  CHECK_EQ(rig.mqtt.connects, 1);
}

TEST(after_connack_subscribes_to_cmd_and_bridge_status_and_waits_for_both_subacks) {
  Rig rig;
  rig.add_standard_devices();
  CHECK(rig.begin());
  rig.node->network_up();
  rig.node->mqtt_connected();
  CHECK(rig.node->state() == ConnState::Subscribing);
  CHECK_EQ(rig.mqtt.subscriptions.size(), 2u);
  CHECK_STR(rig.mqtt.subscriptions[0].topic, "hearth/v1/esp-test01/cmd");
  CHECK_EQ(rig.mqtt.subscriptions[0].qos, 1);
  CHECK_STR(rig.mqtt.subscriptions[1].topic, "hearth/v1/bridge/status");
  CHECK_EQ(rig.mqtt.subscriptions[1].qos, 1);
  rig.node->mqtt_subscribed(rig.mqtt.subscriptions[1].mid);
  CHECK_EQ(rig.mqtt.published.size(), 0u);
  CHECK(rig.node->state() == ConnState::Subscribing);
  rig.node->mqtt_subscribed(rig.mqtt.subscriptions[0].mid);
  CHECK(rig.node->state() == ConnState::Announcing);
  CHECK_EQ(rig.mqtt.published.size(), 1u);
  CHECK_STR(rig.mqtt.published[0].topic, "hearth/v1/esp-test01/config");
}

TEST(announcement_is_config_then_each_state_then_online_each_after_the_previous_puback) {
  Rig rig;
  rig.add_standard_devices();
  CHECK(rig.begin());
  rig.connect();
  const char* expected[] = {"config", "d/relay/state", "d/outlet/state", "d/light/state", "d/door/state",
                            "d/lock/state", "d/heat/state", "d/fan/state", "d/temp/state", "status"};
  for (size_t i = 0; i < 10; ++i) {
    // Exactly one message in flight: the next waits for this one's PUBACK.
    CHECK_EQ(rig.mqtt.published.size(), i + 1);
    const fakes::Publish& p = rig.mqtt.published[i];
    CHECK_STR(p.topic, rig.topic(expected[i]));
    CHECK_EQ(p.qos, 1);
    CHECK(p.retain);
    rig.advance(100);  // time alone does not move the announcement on
    CHECK_EQ(rig.mqtt.published.size(), i + 1);
    CHECK(rig.node->state() == ConnState::Announcing);
    rig.mqtt.published[i].acked = true;
    rig.node->mqtt_published(p.mid);
  }
  CHECK_STR(rig.mqtt.published[9].payload, "online");
  CHECK(rig.node->state() == ConnState::Online);
  CHECK_EQ(rig.mqtt.published.size(), 10u);
}

TEST(a_puback_for_another_message_does_not_advance_the_announcement) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.connect();
  rig.node->mqtt_published(999);
  CHECK_EQ(rig.mqtt.published.size(), 1u);
}

TEST(a_live_bridge_online_during_an_announcement_queues_exactly_one_more_after_it) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  rig.add(DeviceKind::Light, "light", hearth::kNoPin, hearth::kNoPin, 1);
  CHECK(rig.begin());
  rig.connect();
  rig.send("bridge/status", "online");
  rig.send("bridge/status", "online");
  // Still one message in flight: no second announcement runs alongside.
  CHECK_EQ(rig.mqtt.published.size(), 1u);
  rig.ack_all();
  std::string order;
  for (const auto& p : rig.mqtt.published) order += p.topic.substr(p.topic.rfind('/') + 1) + " ";
  CHECK_STR(order, "config state state status config state state status ");
  CHECK(rig.node->state() == ConnState::Online);
}

TEST(the_retained_bridge_online_on_subscribe_is_ignored) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  size_t before = rig.mqtt.published.size();
  rig.send("bridge/status", "online", true);
  rig.ack_all();
  CHECK_EQ(rig.mqtt.published.size(), before);
}

TEST(a_live_bridge_online_announces_again_without_subscribing_again) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  rig.send("bridge/status", " online\n");
  CHECK(rig.node->state() == ConnState::Announcing);
  rig.ack_all();
  CHECK_EQ(rig.mqtt.count("/config"), 2u);
  CHECK_EQ(rig.mqtt.count("/d/relay/state"), 2u);
  CHECK_EQ(rig.mqtt.count("esp-test01/status"), 2u);
  CHECK_EQ(rig.mqtt.subscriptions.size(), 2u);
  CHECK(rig.node->state() == ConnState::Online);
}

TEST(bridge_offline_changes_nothing) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  size_t before = rig.mqtt.published.size();
  rig.send("bridge/status", "offline");
  rig.ack_all();
  CHECK_EQ(rig.mqtt.published.size(), before);
  CHECK(rig.node->state() == ConnState::Online);
  // It keeps working locally and keeps publishing its changes.
  CHECK(rig.node->press("relay"));
  CHECK_EQ(rig.mqtt.count("/d/relay/state"), 2u);
}

TEST(backoff_doubles_from_one_second_with_the_lowest_jitter) {
  Rig rig;
  rig.random.after_script = 0;  // the random part is always 0: each wait is half its step
  CHECK(rig.begin());
  rig.node->network_up();
  const uint64_t expected[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
  for (uint64_t e : expected) CHECK_EQ(wait_after_failure(rig), e);
}

TEST(backoff_jitter_reaches_the_whole_step_at_most) {
  Rig rig;
  // r % (half + 1) == half: the largest random part, so each wait is its whole step.
  rig.random.script = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
  CHECK(rig.begin());
  rig.node->network_up();
  const uint64_t expected[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  for (uint64_t e : expected) CHECK_EQ(wait_after_failure(rig), e);
}

TEST(backoff_waits_stay_within_half_a_step_and_a_step) {
  Rig rig;
  rig.random.script = {7, 123456, 99, 4242, 31337, 2718281, 1, 65535, 999999, 12};
  CHECK(rig.begin());
  rig.node->network_up();
  uint64_t step = 1000;
  for (int i = 0; i < 10; ++i) {
    uint64_t wait = wait_after_failure(rig);
    CHECK(wait >= step / 2);
    CHECK(wait <= step);
    step = step * 2 > 60000 ? 60000 : step * 2;
  }
}

TEST(backoff_returns_to_one_second_after_a_successful_connack) {
  Rig rig;
  rig.random.after_script = 0;
  CHECK(rig.begin());
  rig.node->network_up();
  wait_after_failure(rig);
  wait_after_failure(rig);
  CHECK_EQ(wait_after_failure(rig), 2000u);
  rig.connect();
  rig.ack_all();
  CHECK(rig.node->state() == ConnState::Online);
  CHECK_EQ(wait_after_failure(rig), 500u);
}

TEST(a_refused_connect_waits_the_longest_step) {
  Rig rig;
  CHECK(rig.begin());
  rig.node->network_up();
  // The very first refusal may be a broker still reloading the account a claim made: an ordinary step.
  rig.node->mqtt_refused(5);
  CHECK(rig.node->state() == ConnState::Backoff);
  rig.advance(1000);
  CHECK_EQ(rig.mqtt.connects, 2);
  rig.node->mqtt_refused(5);
  // Clients report the closed socket as well; it must not shorten the wait.
  rig.node->mqtt_disconnected();
  CHECK(rig.node->state() == ConnState::Backoff);
  rig.advance(59999);
  CHECK_EQ(rig.mqtt.connects, 2);
  rig.advance(1);
  CHECK_EQ(rig.mqtt.connects, 3);
  rig.node->mqtt_refused(4);
  rig.advance(59999);
  CHECK_EQ(rig.mqtt.connects, 3);
  CHECK(rig.log.contains("refused"));
}

TEST(after_a_successful_login_even_the_first_refusal_waits_the_longest_step) {
  Rig rig;
  CHECK(rig.begin());
  rig.node->network_up();
  rig.connect();
  rig.ack_all();
  CHECK(rig.node->state() == ConnState::Online);
  rig.node->mqtt_disconnected();
  rig.advance(1000);
  CHECK_EQ(rig.mqtt.connects, 2);
  // The password was rotated or the node removed: the same credentials will not start working by themselves.
  rig.node->mqtt_refused(5);
  rig.advance(59999);
  CHECK_EQ(rig.mqtt.connects, 2);
  rig.advance(1);
  CHECK_EQ(rig.mqtt.connects, 3);
}

TEST(a_connect_that_cannot_start_counts_as_a_failure) {
  Rig rig;
  rig.random.after_script = 0;
  rig.mqtt.connect_result = false;
  CHECK(rig.begin());
  rig.node->network_up();
  CHECK(rig.node->state() == ConnState::Backoff);
  rig.advance(499);
  CHECK_EQ(rig.mqtt.connects, 1);
  rig.advance(1);
  CHECK_EQ(rig.mqtt.connects, 2);
  // And the step grows like any other failure.
  rig.advance(999);
  CHECK_EQ(rig.mqtt.connects, 2);
  rig.advance(1);
  CHECK_EQ(rig.mqtt.connects, 3);
}

TEST(losing_the_network_waits_for_it_and_reconnects_at_once_when_it_returns) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  rig.node->network_down();
  CHECK(rig.node->state() == ConnState::WaitingForNetwork);
  rig.node->mqtt_disconnected();  // the client noticing later changes nothing
  rig.advance(120000);
  CHECK_EQ(rig.mqtt.connects, 1);
  CHECK_EQ(rig.mqtt.disconnects, 0);  // no DISCONNECT: the will must fire if the link is really gone
  rig.node->network_up();
  CHECK_EQ(rig.mqtt.connects, 2);
  rig.connect();
  rig.ack_all();
  CHECK(rig.node->state() == ConnState::Online);
  CHECK_EQ(rig.mqtt.count("/config"), 2u);
}

TEST(every_reconnect_subscribes_and_announces_again) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  rig.node->mqtt_disconnected();
  CHECK(rig.node->state() == ConnState::Backoff);
  rig.advance(1000);
  CHECK_EQ(rig.mqtt.connects, 2);
  rig.connect();
  CHECK_EQ(rig.mqtt.subscriptions.size(), 4u);
  rig.ack_all();
  CHECK_EQ(rig.mqtt.count("/config"), 2u);
  CHECK_EQ(rig.mqtt.count("/d/relay/state"), 2u);
  CHECK(rig.node->state() == ConnState::Online);
}

TEST(a_disconnect_mid_announcement_starts_the_next_one_from_the_config) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  rig.add(DeviceKind::Switch, "relay2", 6);
  CHECK(rig.begin());
  rig.connect();
  rig.node->mqtt_published(rig.mqtt.published[0].mid);  // config acked, relay's state in flight
  rig.mqtt.published[0].acked = true;
  rig.node->mqtt_disconnected();
  // A late PUBACK from the old connection must not move anything.
  rig.node->mqtt_published(rig.mqtt.published[1].mid);
  rig.mqtt.published[1].acked = true;
  rig.advance(1000);
  rig.connect();
  rig.ack_all();
  std::string order;
  for (size_t i = 2; i < rig.mqtt.published.size(); ++i) {
    const auto& t = rig.mqtt.published[i].topic;
    order += t.substr(t.find("esp-test01/") + 11) + " ";
  }
  CHECK_STR(order, "config d/relay/state d/relay2/state status ");
}

TEST(a_publish_that_cannot_be_queued_is_retried_on_tick) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.mqtt.publish_fails = true;
  rig.connect();
  CHECK_EQ(rig.mqtt.published.size(), 0u);
  rig.advance(50);
  rig.mqtt.publish_fails = false;
  rig.advance(50);
  CHECK_EQ(rig.mqtt.count("/config"), 1u);
  rig.ack_all();
  CHECK(rig.node->state() == ConnState::Online);
}

TEST(a_failed_subscribe_reconnects_instead_of_announcing) {
  Rig rig;
  rig.random.after_script = 0;
  CHECK(rig.begin());
  rig.mqtt.subscribe_fails = true;
  rig.node->network_up();
  rig.node->mqtt_connected();
  CHECK_EQ(rig.mqtt.disconnects, 1);
  CHECK(rig.node->state() == ConnState::Backoff);
  CHECK_EQ(rig.mqtt.published.size(), 0u);
}

TEST(changes_while_disconnected_are_not_queued_but_announced_after_the_reconnect) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  rig.node->mqtt_disconnected();
  size_t before = rig.mqtt.published.size();
  CHECK(rig.node->press("relay"));
  CHECK_EQ(rig.mqtt.published.size(), before);
  CHECK(rig.gpio.level[5]);  // the relay itself switched at once
  rig.advance(1000);
  rig.connect();
  rig.ack_all();
  Json state = rig.last("/d/relay/state");
  CHECK(state.truth("on"));
}

TEST(commands_are_served_as_soon_as_subscribed_even_while_announcing) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.connect();
  CHECK(rig.node->state() == ConnState::Announcing);
  rig.send("cmd", R"({"id":"early1","op":"get","dev":"relay"})");
  Json res = rig.last("/cmd/res");
  CHECK_STR(res.str("status"), "ok");
  CHECK_STR(res.str("id"), "early1");
}

TEST(the_dedupe_window_survives_a_reconnect) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  CHECK_STR(rig.command(R"({"id":"keep1","op":"set","dev":"relay","params":{"on":true}})").str("status"), "ok");
  rig.node->mqtt_disconnected();
  rig.advance(1000);
  rig.online();
  CHECK_STR(rig.command(R"({"id":"keep1","op":"set","dev":"relay","params":{"on":true}})").str("status"),
            "duplicate");
}

TEST(shutdown_publishes_offline_then_disconnects_and_stays_stopped) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  rig.node->shutdown();
  const fakes::Publish& last = rig.mqtt.published.back();
  CHECK_STR(last.topic, "hearth/v1/esp-test01/status");
  CHECK_STR(last.payload, "offline");
  CHECK_EQ(last.qos, 1);
  CHECK(last.retain);
  CHECK_EQ(rig.mqtt.disconnects, 1);
  CHECK(rig.node->state() == ConnState::Stopped);
  rig.node->mqtt_disconnected();
  rig.advance(120000);
  CHECK_EQ(rig.mqtt.connects, 1);
  CHECK_EQ(rig.platform.restarts, 0);
}

TEST(reboot_answers_accepted_then_publishes_offline_and_restarts_after_its_puback) {
  Rig rig;
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.online();
  rig.send("cmd", R"({"id":"Mv3Js5Hx7Gk9Dl1P","op":"reboot"})");
  Json res = rig.last("/cmd/res");
  CHECK_STR(res.str("status"), "accepted");
  CHECK_STR(res.str("id"), "Mv3Js5Hx7Gk9Dl1P");
  CHECK_STR(res.keys(), "id,status");
  const fakes::Publish& last = rig.mqtt.published.back();
  CHECK_STR(last.payload, "offline");
  CHECK(last.retain);
  CHECK(rig.node->state() == ConnState::Stopped);
  CHECK_EQ(rig.platform.restarts, 0);
  CHECK_EQ(rig.mqtt.disconnects, 0);
  rig.node->mqtt_published(last.mid);
  CHECK_EQ(rig.mqtt.disconnects, 1);
  CHECK_EQ(rig.platform.restarts, 1);
}

TEST(reboot_restarts_after_a_second_when_the_offline_puback_does_not_come) {
  Rig rig;
  CHECK(rig.begin());
  rig.online();
  rig.send("cmd", R"({"op":"reboot"})");
  rig.advance(990);
  CHECK_EQ(rig.platform.restarts, 0);
  rig.advance(20);
  CHECK_EQ(rig.platform.restarts, 1);
  CHECK_EQ(rig.mqtt.disconnects, 1);
  rig.advance(5000);
  CHECK_EQ(rig.platform.restarts, 1);
}
