// Claiming: a claim token traded for MQTT credentials, kept in the store, and used by begin().
#include <string>

#include "claim.h"
#include "rig.h"
#include "runner.h"

using hearth::ClaimOutcome;

namespace {

const char* kCredentials =
    R"({"node_id":"esp-test01","username":"esp-test01","password":"pw-from-the-bridge","mqtt_url":"mqtt://192.168.1.10:1883","topic_prefix":"home/v1"})";

ClaimOutcome claim(Rig& rig, std::string* message = nullptr, const char* url = "http://192.168.1.10:8080/") {
  char buf[256];
  ClaimOutcome outcome = hearth::claim_node(rig.ports(), url, "esp-test01", "tok-123", buf, sizeof buf);
  if (message != nullptr) *message = buf;
  return outcome;
}

}  // namespace

TEST(claim_posts_the_token_and_stores_the_credentials) {
  Rig rig;
  rig.http.post_response = kCredentials;
  std::string message;
  CHECK(claim(rig, &message) == ClaimOutcome::Ok);
  CHECK_EQ(rig.http.posts.size(), 1u);
  CHECK_STR(rig.http.posts[0].first, "http://192.168.1.10:8080/api/v1/claim");
  Json body(rig.http.posts[0].second);
  CHECK_STR(body.keys(), "node_id,claim_token");
  CHECK_STR(body.str("node_id"), "esp-test01");
  CHECK_STR(body.str("claim_token"), "tok-123");
  CHECK(!message.empty());
  hearth::Credentials c;
  CHECK(hearth::load_credentials(rig.kv, &c));
  CHECK_STR(c.mqtt_uri, "mqtt://192.168.1.10:1883");
  CHECK_STR(c.username, "esp-test01");
  CHECK_STR(c.password, "pw-from-the-bridge");
  CHECK_STR(c.topic_prefix, "home/v1");
  CHECK(rig.kv.has(hearth::kCredentialsKey));
}

TEST(claim_takes_a_bridge_url_without_a_trailing_slash_too) {
  Rig rig;
  rig.http.post_response = kCredentials;
  CHECK(claim(rig, nullptr, "https://hearth.example") == ClaimOutcome::Ok);
  CHECK_STR(rig.http.posts[0].first, "https://hearth.example/api/v1/claim");
}

TEST(claim_without_a_topic_prefix_uses_the_default_one) {
  Rig rig;
  rig.http.post_response =
      R"({"node_id":"esp-test01","username":"esp-test01","password":"pw","mqtt_url":"mqtts://hearth.example:8883"})";
  CHECK(claim(rig) == ClaimOutcome::Ok);
  hearth::Credentials c;
  CHECK(hearth::load_credentials(rig.kv, &c));
  CHECK_STR(c.topic_prefix, "hearth/v1");
}

TEST(claim_refusals_carry_the_bridge_s_reason) {
  const int refusals[] = {400, 401, 403, 404, 409, 410, 429};
  for (int status : refusals) {
    Rig rig;
    rig.http.post_status = status;
    rig.http.post_response =
        R"({"error":{"code":"claim_token_used","message":"this claim token was already used; create a new one"}})";
    std::string message;
    CHECK(claim(rig, &message) == ClaimOutcome::Refused);
    CHECK_STR(message, "this claim token was already used; create a new one");
    CHECK(!rig.kv.has(hearth::kCredentialsKey));
  }
}

TEST(a_refusal_without_a_reason_names_the_http_status) {
  Rig rig;
  rig.http.post_status = 401;
  rig.http.post_response = "Unauthorized";
  std::string message;
  CHECK(claim(rig, &message) == ClaimOutcome::Refused);
  CHECK(message.find("401") != std::string::npos);
}

TEST(claim_without_an_answer_is_unreachable) {
  Rig rig;
  rig.http.post_status = -1;
  std::string message;
  CHECK(claim(rig, &message) == ClaimOutcome::Unreachable);
  CHECK(message.find("192.168.1.10:8080") != std::string::npos);
  CHECK(!rig.kv.has(hearth::kCredentialsKey));
}

TEST(claim_answers_the_node_cannot_use_are_bad_responses) {
  const struct {
    int status;
    const char* body;
  } cases[] = {
      {500, R"({"error":{"code":"internal","message":"boom"}})"},
      {302, ""},
      {200, "not json"},
      {200, R"({"node_id":"esp-test01","username":"esp-test01","mqtt_url":"mqtt://h:1883"})"},
      {200, R"({"node_id":"esp-test01","username":"esp-test01","password":"pw"})"},
      {200, R"({"node_id":"esp-test01","password":"pw","mqtt_url":"mqtt://h:1883"})"},
      {200, R"({"node_id":"esp-other","username":"esp-other","password":"pw","mqtt_url":"mqtt://h:1883"})"},
      {200, R"({"node_id":"esp-test01","username":"esp-test01","password":"pw","mqtt_url":"ws://h:9001"})"},
      {200, R"({"node_id":"esp-test01","username":"esp-test01","password":")"
            "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
            R"(","mqtt_url":"mqtt://h:1883"})"},
      {200, R"({"node_id":"esp-test01","username":"esp-test01","password":"pw","mqtt_url":"mqtt://h:1883","topic_prefix":")"
            "0123456789012345678901234567890123456789012345678901234567890123456789"
            R"("})"},
  };
  for (const auto& c : cases) {
    Rig rig;
    rig.http.post_status = c.status;
    rig.http.post_response = c.body;
    std::string message;
    CHECK(claim(rig, &message) == ClaimOutcome::BadResponse);
    CHECK(!message.empty());
    CHECK(!rig.kv.has(hearth::kCredentialsKey));
  }
}

TEST(claim_reports_a_store_that_cannot_keep_the_credentials) {
  Rig rig;
  rig.http.post_response = kCredentials;
  rig.kv.set_fails = true;
  CHECK(claim(rig) == ClaimOutcome::StorageFailed);
}

TEST(claim_refuses_bad_arguments_before_asking_the_bridge) {
  Rig rig;
  char message[128];
  CHECK(hearth::claim_node(rig.ports(), "http://b", "Bad_Id", "tok", message, sizeof message) == ClaimOutcome::Refused);
  CHECK(hearth::claim_node(rig.ports(), "http://b", "esp-test01", "", message, sizeof message) == ClaimOutcome::Refused);
  CHECK(hearth::claim_node(rig.ports(), "b:8080", "esp-test01", "tok", message, sizeof message) ==
        ClaimOutcome::Unreachable);
  CHECK(rig.http.posts.empty());
}

TEST(forgotten_credentials_are_gone) {
  Rig rig;
  rig.http.post_response = kCredentials;
  CHECK(claim(rig) == ClaimOutcome::Ok);
  CHECK(hearth::forget_credentials(rig.kv));
  hearth::Credentials c;
  CHECK(!hearth::load_credentials(rig.kv, &c));
  CHECK(hearth::forget_credentials(rig.kv));  // nothing to forget is fine too
}

TEST(begin_uses_the_claimed_credentials_for_what_the_settings_leave_out) {
  Rig rig;
  rig.http.post_response = kCredentials;
  CHECK(claim(rig) == ClaimOutcome::Ok);
  rig.settings.mqtt_uri = nullptr;
  rig.settings.password = nullptr;
  rig.add(hearth::DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.node->network_up();
  CHECK_STR(rig.mqtt.uri, "mqtt://192.168.1.10:1883");
  CHECK_STR(rig.mqtt.username, "esp-test01");
  CHECK_STR(rig.mqtt.password, "pw-from-the-bridge");
  CHECK_STR(rig.mqtt.will_topic, "home/v1/esp-test01/status");
  rig.node->mqtt_connected();
  CHECK_STR(rig.mqtt.subscriptions[0].topic, "home/v1/esp-test01/cmd");
  CHECK_STR(rig.mqtt.subscriptions[1].topic, "home/v1/bridge/status");
  rig.ack_all();
  for (auto& s : rig.mqtt.subscriptions) rig.node->mqtt_subscribed(s.mid);
  CHECK_STR(rig.mqtt.published[0].topic, "home/v1/esp-test01/config");
  // Commands arrive under the claimed prefix.
  std::string cmd = R"({"id":"c1","op":"get","dev":"relay"})";
  rig.node->mqtt_message("home/v1/esp-test01/cmd", reinterpret_cast<const uint8_t*>(cmd.data()), cmd.size(), false);
  CHECK_STR(rig.mqtt.on("/cmd/res").back().topic, "home/v1/esp-test01/cmd/res");
}

TEST(settings_take_precedence_over_claimed_credentials) {
  Rig rig;
  rig.http.post_response = kCredentials;
  CHECK(claim(rig) == ClaimOutcome::Ok);
  rig.settings.mqtt_uri = "mqtts://other.example:8883";
  rig.settings.password = nullptr;
  rig.settings.topic_prefix = "hearth/v1";
  rig.settings.username = "esp-test01";
  CHECK(rig.begin());
  rig.node->network_up();
  CHECK_STR(rig.mqtt.uri, "mqtts://other.example:8883");
  CHECK_STR(rig.mqtt.password, "pw-from-the-bridge");
  CHECK_STR(rig.mqtt.will_topic, "hearth/v1/esp-test01/status");
}

TEST(begin_without_a_broker_or_a_password_fails_with_a_clear_log_line) {
  {
    Rig rig;
    rig.settings.mqtt_uri = nullptr;
    CHECK(!rig.begin());
    CHECK(rig.log.contains("no MQTT broker"));
    rig.node->network_up();
    CHECK_EQ(rig.mqtt.connects, 0);
  }
  {
    Rig rig;
    rig.settings.password = nullptr;
    CHECK(!rig.begin());
    CHECK(rig.log.contains("no MQTT password"));
  }
}
