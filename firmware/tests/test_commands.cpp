// Commands and their answers: every status of protocol §10, in the order of checks of §9, and dedupe (§11).
#include <string>

#include "rig.h"
#include "runner.h"

namespace {

// A node with every kind of device, online.
struct Online : Rig {
  Online() {
    add_standard_devices();
    CHECK(begin());
    online();
  }
};

// Every answer the bridge can use: on cmd/res, QoS 1, not retained, a message of at most 200 characters.
void check_answer_shape(const Rig& rig) {
  const fakes::Publish p = rig.mqtt.on("/cmd/res").back();
  CHECK_STR(p.topic, "hearth/v1/esp-test01/cmd/res");
  CHECK_EQ(p.qos, 1);
  CHECK(!p.retain);
  Json res(p.payload);
  CHECK(res.ok());
  CHECK(res.str("msg").size() <= 200);
}

}  // namespace

TEST(set_publishes_the_retained_state_then_answers_ok_with_that_state_and_seq) {
  Online rig;
  size_t before = rig.mqtt.published.size();
  rig.send("cmd", R"({"id":"Zk3v9QmL0aTq7sXw","op":"set","dev":"light","params":{"on":true,"brightness":60}})");
  CHECK_EQ(rig.mqtt.published.size(), before + 2);
  const fakes::Publish& state = rig.mqtt.published[before];
  const fakes::Publish& res = rig.mqtt.published[before + 1];
  CHECK_STR(state.topic, "hearth/v1/esp-test01/d/light/state");
  CHECK(state.retain);
  CHECK_EQ(state.qos, 1);
  Json s(state.payload);
  CHECK_STR(s.keys(), "on,brightness,seq");
  CHECK(s.truth("on"));
  CHECK_EQ(s.num("brightness"), 60.0);
  Json r(res.payload);
  CHECK_STR(r.keys(), "id,status,dev,state,seq");
  CHECK_STR(r.str("id"), "Zk3v9QmL0aTq7sXw");
  CHECK_STR(r.str("status"), "ok");
  CHECK_STR(r.str("dev"), "light");
  CHECK(r.get("state").truth("on"));
  CHECK_EQ(r.get("state").num("brightness"), 60.0);
  CHECK(!r.get("state").has("seq"));
  CHECK_EQ(r.num("seq"), s.num("seq"));
  check_answer_shape(rig);
}

TEST(seq_grows_with_every_state_message_of_the_node) {
  Online rig;
  Json a = rig.command(R"({"id":"s1","op":"set","dev":"relay","params":{"on":true}})");
  Json b = rig.command(R"({"id":"s2","op":"set","dev":"light","params":{"on":true}})");
  Json c = rig.command(R"({"id":"s3","op":"get","dev":"relay"})");
  CHECK(a.num("seq") > 0);
  CHECK_EQ(b.num("seq"), a.num("seq") + 1);
  CHECK_EQ(c.num("seq"), b.num("seq") + 1);
}

TEST(get_publishes_the_current_state_again_and_answers_ok) {
  Online rig;
  size_t states = rig.mqtt.count("/d/lock/state");
  Json res = rig.command(R"({"id":"q0Lr8mXc2VbN5sTa","op":"get","dev":"lock"})");
  CHECK_STR(res.str("status"), "ok");
  CHECK(res.get("state").truth("locked"));
  CHECK_STR(res.get("state").str("lock_state"), "locked");
  CHECK_EQ(rig.mqtt.count("/d/lock/state"), states + 1);
}

TEST(a_set_to_the_values_the_device_already_has_is_ok) {
  Online rig;
  Json res = rig.command(R"({"id":"same1","op":"set","dev":"relay","params":{"on":false}})");
  CHECK_STR(res.str("status"), "ok");
  CHECK(res.get("state").is_bool("on"));
  CHECK(!res.get("state").truth("on"));
}

TEST(a_command_without_id_is_answered_with_id_null_and_never_deduplicated) {
  Online rig;
  size_t states = rig.mqtt.count("/d/relay/state");
  Json a = rig.command(R"({"op":"set","dev":"relay","params":{"on":true}})");
  Json b = rig.command(R"({"id":null,"op":"set","dev":"relay","params":{"on":true}})");
  CHECK(a.is_null("id"));
  CHECK_STR(a.str("status"), "ok");
  CHECK(b.is_null("id"));
  CHECK_STR(b.str("status"), "ok");
  CHECK_EQ(rig.mqtt.count("/d/relay/state"), states + 2);
}

TEST(oversized_command_is_bad_request_with_its_id_when_readable) {
  Online rig;
  std::string big = R"({"op":"set","dev":"light","params":{"on":true},"pad":")" + std::string(1100, 'x') +
                    R"(","id":"big1"})";
  Json res = rig.command(big);
  CHECK_STR(res.str("status"), "bad_request");
  CHECK_STR(res.str("id"), "big1");
  CHECK(res.str("msg").find("1024") != std::string::npos);
  CHECK(!rig.gpio.duty.count(1) || rig.gpio.duty[1] == 0);
  check_answer_shape(rig);
}

TEST(oversized_command_without_a_readable_id_is_answered_with_id_null) {
  Online rig;
  Json res = rig.command(std::string(1025, ' '));
  CHECK_STR(res.str("status"), "bad_request");
  CHECK(res.is_null("id"));
  Json res2 = rig.command(R"({"id":42,"pad":")" + std::string(1100, 'x') + "\"}");
  CHECK(res2.is_null("id"));
}

TEST(a_command_of_exactly_1024_bytes_is_still_read) {
  Online rig;
  std::string head = R"({"id":"edge1","op":"get","dev":"relay","pad":")";
  std::string cmd = head + std::string(1024 - head.size() - 2, 'x') + "\"}";
  CHECK_EQ(cmd.size(), 1024u);
  CHECK_STR(rig.command(cmd).str("status"), "ok");
}

TEST(not_json_is_bad_request_with_id_null) {
  Online rig;
  const char* bad[] = {"{\"id\":\"x1\",\"op\":", "", "online", "{\"id\":\"x2\",\"op\":\"get\",\"dev\":\"relay\"} junk"};
  for (const char* payload : bad) {
    Json res = rig.command(payload);
    CHECK_STR(res.str("status"), "bad_request");
    CHECK(res.is_null("id"));
    CHECK_STR(res.str("msg"), "command is not valid JSON");
    CHECK_STR(res.keys(), "id,status,msg");
  }
  std::string with_nul("{\"id\":\"x3\"}\0{}", 14);
  CHECK_STR(rig.command(with_nul).str("status"), "bad_request");
}

TEST(json_that_is_not_an_object_is_a_bad_envelope) {
  Online rig;
  Json res = rig.command("[1,2]");
  CHECK_STR(res.str("status"), "bad_request");
  CHECK(res.is_null("id"));
}

TEST(a_bad_envelope_is_bad_request_with_the_id_when_it_is_readable) {
  Online rig;
  struct Case {
    const char* payload;
    const char* id;  // nullptr: answered with id null
  } cases[] = {
      {R"({"id":"e1","op":"toggle","dev":"relay"})", "e1"},
      {R"({"id":"e2","dev":"relay"})", "e2"},
      {R"({"id":"e3","op":"get","dev":"Relay"})", "e3"},
      {R"({"id":"e4","op":"get","dev":7})", "e4"},
      {R"({"id":"e5","op":"set","dev":"relay","params":[true]})", "e5"},
      {R"({"id":"e6","op":"set","dev":"relay","params":{"on":null}})", "e6"},
      {R"({"id":"e7","op":"set","dev":"relay","params":{"on":{"x":1}}})", "e7"},
      {R"({"id":"e8","op":"get","dev":"relay","exp":-5})", "e8"},
      {R"({"id":"e9","op":"get","dev":"relay","exp":17.5})", "e9"},
      {R"({"id":"e10","op":"get","dev":"relay","exp":"soon"})", "e10"},
      {R"({"id":17,"op":"get","dev":"relay"})", nullptr},
      {R"({"id":"","op":"get","dev":"relay"})", nullptr},
      {R"({"id":"abcdefghijklmnopqrstuvwxyz0123456","op":"get","dev":"relay"})", nullptr},
  };
  for (const Case& c : cases) {
    Json res = rig.command(c.payload);
    CHECK_STR(res.str("status"), "bad_request");
    if (c.id != nullptr) {
      CHECK_STR(res.str("id"), c.id);
    } else {
      CHECK(res.is_null("id"));
    }
    CHECK(!res.str("msg").empty());
    check_answer_shape(rig);
  }
}

TEST(a_string_param_longer_than_64_characters_is_a_bad_envelope) {
  Online rig;
  std::string cmd = R"({"id":"long1","op":"set","dev":"heat","params":{"mode":")" + std::string(65, 'h') + "\"}}";
  Json res = rig.command(cmd);
  CHECK_STR(res.str("status"), "bad_request");
  CHECK(res.str("msg").find("64") != std::string::npos);
}

TEST(a_repeated_id_is_answered_duplicate_with_the_current_state_and_not_run_again) {
  Online rig;
  Json first = rig.command(R"({"id":"dup1","op":"set","dev":"relay","params":{"on":true}})");
  CHECK_STR(first.str("status"), "ok");
  rig.node->press("relay");  // the state moves on locally
  size_t writes = rig.gpio.writes.size();
  size_t states = rig.mqtt.count("/d/relay/state");
  Json again = rig.command(R"({"id":"dup1","op":"set","dev":"relay","params":{"on":true}})");
  CHECK_STR(again.str("status"), "duplicate");
  CHECK_STR(again.str("id"), "dup1");
  CHECK_STR(again.str("dev"), "relay");
  CHECK(!again.get("state").truth("on"));  // the current state, not the command's
  CHECK(again.has("seq"));
  CHECK_EQ(rig.gpio.writes.size(), writes);
  CHECK_EQ(rig.mqtt.count("/d/relay/state"), states);
}

TEST(duplicate_comes_before_expired) {
  Online rig;
  rig.clock.synced = true;
  int64_t exp = rig.clock.unix_now() + 5;
  std::string cmd = R"({"id":"Zk3v9QmL0aTq7sXw","op":"set","dev":"relay","params":{"on":true},"exp":)" +
                    std::to_string(exp) + "}";
  CHECK_STR(rig.command(cmd).str("status"), "ok");
  rig.advance(10000, 1000);
  CHECK_STR(rig.command(cmd).str("status"), "duplicate");
}

TEST(expired_when_exp_has_passed_and_the_clock_is_synchronised) {
  Online rig;
  rig.clock.synced = true;
  std::string cmd = R"({"id":"old1","op":"set","dev":"relay","params":{"on":true},"exp":)" +
                    std::to_string(rig.clock.unix_now() - 1) + "}";
  size_t states = rig.mqtt.count("/d/relay/state");
  Json res = rig.command(cmd);
  CHECK_STR(res.str("status"), "expired");
  CHECK_STR(res.str("id"), "old1");
  CHECK_STR(res.str("dev"), "relay");
  CHECK(!res.has("state"));
  CHECK(!rig.gpio.level[5]);
  CHECK_EQ(rig.mqtt.count("/d/relay/state"), states);
  // Expired is a rejection: the id is not remembered, a fresh exp runs it.
  std::string fresh = R"({"id":"old1","op":"set","dev":"relay","params":{"on":true},"exp":)" +
                      std::to_string(rig.clock.unix_now() + 10) + "}";
  CHECK_STR(rig.command(fresh).str("status"), "ok");
}

TEST(exp_is_ignored_while_the_clock_is_not_synchronised) {
  Online rig;
  rig.clock.synced = false;
  Json res = rig.command(R"({"id":"nosync","op":"set","dev":"relay","params":{"on":true},"exp":1000})");
  CHECK_STR(res.str("status"), "ok");
  CHECK(rig.gpio.level[5]);
}

TEST(a_rejected_id_is_not_remembered_and_is_checked_again) {
  Online rig;
  Json bad = rig.command(R"({"id":"R2dT4fG6hJ8kL0zX","op":"set","dev":"light","params":{"brightness":0}})");
  CHECK_STR(bad.str("status"), "out_of_range");
  Json good = rig.command(R"({"id":"R2dT4fG6hJ8kL0zX","op":"set","dev":"light","params":{"brightness":40}})");
  CHECK_STR(good.str("status"), "ok");
  CHECK_EQ(good.get("state").num("brightness"), 40.0);
}

TEST(the_dedupe_window_holds_the_last_eight_executed_ids) {
  Online rig;
  for (int i = 1; i <= 9; ++i) {
    std::string cmd = R"({"id":"w)" + std::to_string(i) + R"(","op":"get","dev":"relay"})";
    CHECK_STR(rig.command(cmd).str("status"), "ok");
  }
  // w2..w9 are remembered; w1, the oldest, was dropped.
  CHECK_STR(rig.command(R"({"id":"w9","op":"get","dev":"relay"})").str("status"), "duplicate");
  CHECK_STR(rig.command(R"({"id":"w2","op":"get","dev":"relay"})").str("status"), "duplicate");
  CHECK_STR(rig.command(R"({"id":"w1","op":"get","dev":"relay"})").str("status"), "ok");
  // Running w1 again pushed w2 out.
  CHECK_STR(rig.command(R"({"id":"w2","op":"get","dev":"relay"})").str("status"), "ok");
}

TEST(a_duplicate_naming_no_device_carries_no_state) {
  Online rig;
  CHECK_STR(rig.command(R"({"id":"nd1","op":"get","dev":"relay"})").str("status"), "ok");
  Json res = rig.command(R"({"id":"nd1","op":"get"})");
  CHECK_STR(res.str("status"), "duplicate");
  CHECK(!res.has("state"));
  Json other = rig.command(R"({"id":"nd1","op":"get","dev":"nosuch"})");
  CHECK_STR(other.str("status"), "duplicate");
  CHECK(!other.has("state"));
}

TEST(a_missing_dev_is_bad_request) {
  Online rig;
  Json res = rig.command(R"({"id":"nodev","op":"set","params":{"on":true}})");
  CHECK_STR(res.str("status"), "bad_request");
  CHECK_STR(res.str("msg"), "\"set\" needs a \"dev\"");
}

TEST(an_unknown_device_is_unknown_device) {
  Online rig;
  Json res = rig.command(R"({"id":"unk1","op":"set","dev":"garage","params":{"on":true}})");
  CHECK_STR(res.str("status"), "unknown_device");
  CHECK_STR(res.str("dev"), "garage");
  CHECK_STR(res.str("msg"), "no device \"garage\" on this node");
  check_answer_shape(rig);
}

TEST(an_op_the_device_type_does_not_support_is_bad_request) {
  Online rig;
  struct Case {
    const char* payload;
  } cases[] = {
      {R"({"id":"op1","op":"identify","dev":"relay"})"},
      {R"({"id":"op2","op":"stop","dev":"light"})"},
      {R"({"id":"op3","op":"identify","dev":"door"})"},
      {R"({"id":"op4","op":"stop","dev":"fan"})"},
  };
  for (const Case& c : cases) {
    Json res = rig.command(c.payload);
    CHECK_STR(res.str("status"), "bad_request");
    CHECK(res.str("msg").find("does not support") != std::string::npos);
  }
  // An unsupported op is refused before its params are looked at.
  Json res = rig.command(R"({"id":"op5","op":"stop","dev":"relay","params":{"bogus":1}})");
  CHECK_STR(res.str("status"), "bad_request");
}

TEST(an_undeclared_param_is_unknown_param) {
  Online rig;
  Json res = rig.command(R"({"id":"up1","op":"set","dev":"light","params":{"ct_k":3000}})");
  CHECK_STR(res.str("status"), "unknown_param");
  CHECK_STR(res.str("dev"), "light");
  CHECK_STR(res.str("msg"), "\"ct_k\" is not a param of this light");
}

TEST(a_read_only_param_is_read_only) {
  Online rig;
  CHECK_STR(rig.command(R"({"id":"ro1","op":"set","dev":"temp","params":{"temperature_c":20}})").str("status"),
            "read_only");
  CHECK_STR(rig.command(R"({"id":"ro2","op":"set","dev":"door","params":{"moving":"stopped"}})").str("status"),
            "read_only");
  CHECK_STR(rig.command(R"({"id":"ro3","op":"set","dev":"heat","params":{"current_c":20}})").str("status"),
            "read_only");
  CHECK_STR(rig.command(R"({"id":"ro4","op":"set","dev":"lock","params":{"lock_state":"unlocked"}})").str("status"),
            "read_only");
}

TEST(names_are_checked_before_read_only_and_read_only_before_values) {
  Online rig;
  // An unknown name anywhere wins over a read-only param earlier in the object.
  CHECK_STR(rig.command(R"({"id":"or1","op":"set","dev":"lock","params":{"lock_state":"x","bogus":1}})").str("status"),
            "unknown_param");
  // A read-only param wins over a wrong value earlier in the object.
  CHECK_STR(rig.command(R"({"id":"or2","op":"set","dev":"lock","params":{"locked":"yes","lock_state":"x"}})").str("status"),
            "read_only");
}

TEST(a_value_of_the_wrong_type_or_an_undeclared_enum_value_is_bad_request) {
  Online rig;
  const char* cases[] = {
      R"({"id":"t1","op":"set","dev":"relay","params":{"on":"yes"}})",
      R"({"id":"t2","op":"set","dev":"relay","params":{"on":1}})",
      R"({"id":"t3","op":"set","dev":"light","params":{"brightness":50.5}})",
      R"({"id":"t4","op":"set","dev":"light","params":{"brightness":"50"}})",
      R"({"id":"t5","op":"set","dev":"heat","params":{"mode":"cool"}})",
      R"({"id":"t6","op":"set","dev":"heat","params":{"mode":true}})",
      R"({"id":"t7","op":"set","dev":"heat","params":{"target_c":"21"}})",
  };
  for (const char* c : cases) {
    Json res = rig.command(c);
    CHECK_STR(res.str("status"), "bad_request");
    CHECK(!res.str("msg").empty());
  }
  Json res = rig.command(R"({"id":"t8","op":"set","dev":"heat","params":{"mode":"cool"}})");
  CHECK_STR(res.str("msg"), "\"mode\" must be one of off, heat");
}

TEST(a_number_outside_min_and_max_is_out_of_range) {
  Online rig;
  Json res = rig.command(R"({"id":"R2dT4fG6hJ8kL0zX","op":"set","dev":"light","params":{"brightness":0}})");
  CHECK_STR(res.str("status"), "out_of_range");
  CHECK_STR(res.str("dev"), "light");
  CHECK_STR(res.str("msg"), "\"brightness\" must be between 1 and 100 %, got 0");
  CHECK_STR(rig.command(R"({"id":"r2","op":"set","dev":"light","params":{"brightness":101}})").str("status"),
            "out_of_range");
  CHECK_STR(rig.command(R"({"id":"r3","op":"set","dev":"door","params":{"position":-1}})").str("status"),
            "out_of_range");
  Json t = rig.command(R"({"id":"r4","op":"set","dev":"heat","params":{"target_c":30.5}})");
  CHECK_STR(t.str("status"), "out_of_range");
  CHECK_STR(t.str("msg"), "\"target_c\" must be between 5 and 30 \xC2\xB0" "C, got 30.5");
  CHECK_STR(rig.command(R"({"id":"r5","op":"set","dev":"fan","params":{"speed_pct":1e300}})").str("status"),
            "out_of_range");
}

TEST(a_command_is_applied_completely_or_not_at_all) {
  Online rig;
  size_t states = rig.mqtt.count("/d/light/state");
  size_t pwms = rig.gpio.pwms.size();
  Json res = rig.command(R"({"id":"aon1","op":"set","dev":"light","params":{"on":true,"brightness":0}})");
  CHECK_STR(res.str("status"), "out_of_range");
  CHECK(!res.has("state"));
  CHECK_EQ(rig.mqtt.count("/d/light/state"), states);
  CHECK_EQ(rig.gpio.pwms.size(), pwms);
  Json get = rig.command(R"({"id":"aon2","op":"get","dev":"light"})");
  CHECK(!get.get("state").truth("on"));
}

TEST(params_on_get_stop_identify_or_reboot_are_bad_request) {
  Online rig;
  const char* cases[] = {
      R"({"id":"p1","op":"get","dev":"relay","params":{"on":true}})",
      R"({"id":"p2","op":"stop","dev":"door","params":{"position":3}})",
      R"({"id":"p3","op":"identify","dev":"light","params":{"on":true}})",
      R"({"id":"p4","op":"reboot","params":{"now":true}})",
  };
  for (const char* c : cases) {
    Json res = rig.command(c);
    CHECK_STR(res.str("status"), "bad_request");
    CHECK(res.str("msg").find("takes no params") != std::string::npos);
  }
  CHECK_EQ(rig.platform.restarts, 0);
  // An empty object carries no params.
  CHECK_STR(rig.command(R"({"id":"p5","op":"get","dev":"relay","params":{}})").str("status"), "ok");
}

TEST(set_without_params_is_bad_request) {
  Online rig;
  CHECK_STR(rig.command(R"({"id":"np1","op":"set","dev":"relay"})").str("status"), "bad_request");
  CHECK_STR(rig.command(R"({"id":"np2","op":"set","dev":"relay","params":{}})").str("status"), "bad_request");
}

TEST(unknown_fields_in_a_command_are_ignored) {
  Online rig;
  Json res = rig.command(R"({"id":"uf1","op":"set","dev":"relay","params":{"on":true},"via":"cli","v":2})");
  CHECK_STR(res.str("status"), "ok");
}

TEST(a_retained_command_is_not_run) {
  Online rig;
  size_t before = rig.responses();
  rig.send("cmd", R"({"id":"ret1","op":"set","dev":"relay","params":{"on":true}})", true);
  CHECK_EQ(rig.responses(), before);
  CHECK(!rig.gpio.level[5]);
}

TEST(messages_on_other_topics_are_ignored) {
  Online rig;
  size_t before = rig.mqtt.published.size();
  rig.node->mqtt_message("hearth/v1/esp-other/cmd", reinterpret_cast<const uint8_t*>("{}"), 2, false);
  rig.node->mqtt_message("hearth/v1/esp-test01/cmd/res", reinterpret_cast<const uint8_t*>("{}"), 2, false);
  CHECK_EQ(rig.mqtt.published.size(), before);
}
