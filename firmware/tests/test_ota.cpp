// Firmware updates (protocol §14.1): the command's checks, the download in steps, every way it can fail, the
// restart into the new image, and the outcome the next boot reports.
#include <string>
#include <vector>

#include "rig.h"
#include "runner.h"

using hearth::ConnState;
using hearth::DeviceKind;

namespace {

const char* kId = "Ot4Xq8Lm2Nb6Vc0Z";

std::string image_of(size_t size) {
  std::string image(size, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    image[i] = static_cast<char>(x & 0xff);
  }
  return image;
}

struct Updating : Rig {
  std::string image = image_of(100000);

  Updating() {
    add(DeviceKind::Switch, "relay", 5);
    CHECK(begin());
    online();
    http.body = image;
    http.max_read = 4096;
  }
  // Sends the ota command without acknowledging anything, and returns its answer.
  Json start(const std::string& version = "1.4.3", const std::string& extra = "") {
    send("cmd", ota_command(kId, image, version, extra));
    return last("/cmd/res");
  }
  std::vector<Json> statuses() const {
    std::vector<Json> out;
    for (const auto& p : mqtt.on("/ota/status")) out.emplace_back(p.payload);
    return out;
  }
  std::string states() const {
    std::string out;
    for (const auto& s : statuses()) out += s.str("state") + " ";
    return out;
  }
  // Runs the download until it ends one way or another.
  void run() { advance(2000, 10); }
  // Runs it until the given state is reported (or 5 s pass).
  void run_until(const std::string& state) {
    for (int i = 0; i < 500; ++i) {
      auto all = statuses();
      if (!all.empty() && all.back().str("state") == state) return;
      advance(10);
    }
  }
};

void check_failed(const Updating& rig, const char* error) {
  auto all = rig.statuses();
  CHECK(!all.empty());
  if (all.empty()) return;
  const Json& last = all.back();
  CHECK_STR(last.str("state"), "failed");
  CHECK_STR(last.str("error"), error);
  CHECK_STR(last.str("id"), kId);
  CHECK_STR(last.str("version"), "1.4.3");
  CHECK(!last.str("msg").empty());
  CHECK(!rig.kv.has("ota_job"));
  CHECK_EQ(rig.firmware.finishes, 0);
  CHECK_EQ(rig.platform.restarts, 0);
  // Every response that was opened is closed (a GET that got no response has nothing to close).
  CHECK_EQ(rig.http.opens - (rig.http.open_fails ? 1 : 0), rig.http.closes);
}

}  // namespace

TEST(ota_downloads_checks_installs_and_restarts) {
  Updating rig;
  Json res = rig.start();
  CHECK_STR(res.str("status"), "accepted");
  CHECK_STR(res.str("id"), kId);
  CHECK_STR(res.keys(), "id,status");
  auto first = rig.statuses();
  CHECK_EQ(first.size(), 1u);
  CHECK_STR(first[0].keys(), "id,state,progress,version");
  CHECK_STR(first[0].str("state"), "downloading");
  CHECK_EQ(first[0].num("progress"), 0.0);
  CHECK_STR(first[0].str("version"), "1.4.3");
  CHECK_EQ(rig.firmware.begins, 1);
  CHECK_EQ(rig.firmware.begun_size, 100000u);
  CHECK_STR(rig.firmware.begun_version, "1.4.3");
  rig.run_until("rebooting");
  CHECK_STR(rig.http.get_url, "http://bridge.local:8080/ota/Ot4Xq8Lm2Nb6Vc0Z/token");
  CHECK(rig.firmware.written == rig.image);
  CHECK_EQ(rig.firmware.finishes, 1);
  CHECK_EQ(rig.firmware.aborts, 0);
  auto all = rig.statuses();
  CHECK_STR(all[all.size() - 2].str("state"), "verifying");
  CHECK_STR(all.back().str("state"), "rebooting");
  CHECK_STR(all.back().str("version"), "1.4.3");
  for (const auto& p : rig.mqtt.on("/ota/status")) {
    CHECK_EQ(p.qos, 1);
    CHECK(!p.retain);
  }
  Json job(rig.kv.values["ota_job"]);
  CHECK_STR(job.str("phase"), "installed");
  CHECK_STR(job.str("id"), kId);
  CHECK_STR(job.str("version"), "1.4.3");
  // offline, retained, after the last status; the restart waits for its PUBACK.
  const fakes::Publish offline = rig.mqtt.published.back();
  CHECK_STR(offline.topic, "hearth/v1/esp-test01/status");
  CHECK_STR(offline.payload, "offline");
  CHECK(offline.retain);
  CHECK(rig.node->state() == ConnState::Stopped);
  CHECK_EQ(rig.platform.restarts, 0);
  rig.node->mqtt_published(offline.mid);
  CHECK_EQ(rig.mqtt.disconnects, 1);
  CHECK_EQ(rig.platform.restarts, 1);
}

TEST(ota_reads_at_most_4_kb_per_tick_and_reports_every_10_percent) {
  Updating rig;
  rig.http.max_read = 1 << 20;  // the server would give more; the node takes 4 KB a tick
  rig.start();
  rig.advance(10);  // opens
  rig.advance(10);
  CHECK_EQ(rig.firmware.written.size(), 4096u);
  rig.advance(10);
  CHECK_EQ(rig.firmware.written.size(), 8192u);
  rig.run();
  std::vector<int> progress;
  for (const auto& s : rig.statuses()) {
    if (s.str("state") == "downloading") progress.push_back(static_cast<int>(s.num("progress")));
  }
  CHECK(!progress.empty());
  CHECK_EQ(progress.front(), 0);
  for (size_t i = 1; i < progress.size(); ++i) CHECK(progress[i] > progress[i - 1]);
  // A report in every tenth of the download.
  for (int tenth = 1; tenth <= 9; ++tenth) {
    bool seen = false;
    for (int p : progress) seen = seen || p / 10 == tenth;
    CHECK(seen);
  }
  CHECK(rig.states().find("verifying rebooting") != std::string::npos);
}

TEST(ota_records_the_job_before_the_first_byte) {
  Updating rig;
  rig.start();
  CHECK_EQ(rig.http.opens, 0);
  Json job(rig.kv.values["ota_job"]);
  CHECK_STR(job.str("phase"), "downloading");
  CHECK_STR(job.str("id"), kId);
  CHECK_STR(job.str("version"), "1.4.3");
}

TEST(ota_of_the_running_version_is_rejected) {
  Updating rig;
  rig.firmware.running = "1.4.3";
  CHECK_STR(rig.start().str("status"), "accepted");
  auto all = rig.statuses();
  CHECK_EQ(all.size(), 1u);
  CHECK_STR(all[0].str("state"), "rejected");
  CHECK_STR(all[0].str("error"), "same_version");
  CHECK_EQ(rig.firmware.begins, 0);
  CHECK(!rig.kv.has("ota_job"));
  rig.run();
  CHECK_EQ(rig.http.opens, 0);
}

TEST(ota_too_large_for_the_slot_is_rejected) {
  Updating rig;
  rig.firmware.begin_result = false;
  rig.start();
  auto all = rig.statuses();
  CHECK_EQ(all.size(), 1u);
  CHECK_STR(all[0].str("state"), "rejected");
  CHECK_STR(all[0].str("error"), "too_large");
  CHECK(!rig.kv.has("ota_job"));
  rig.run();
  CHECK_EQ(rig.http.opens, 0);
  // Nothing runs any more: a new update is not busy.
  rig.firmware.begin_result = true;
  rig.send("cmd", ota_command("again1", rig.image, "1.4.3"));
  CHECK_STR(rig.last("/cmd/res").str("status"), "accepted");
}

TEST(ota_fails_with_download_failed_on_an_http_error) {
  Updating rig;
  rig.http.status = 404;
  rig.start();
  rig.run();
  check_failed(rig, "download_failed");
  CHECK(rig.statuses().back().str("msg").find("404") != std::string::npos);
  CHECK_EQ(rig.firmware.aborts, 1);
}

TEST(ota_fails_with_download_failed_when_no_answer_comes) {
  Updating rig;
  rig.http.open_fails = true;
  rig.start();
  rig.run();
  check_failed(rig, "download_failed");
  CHECK_EQ(rig.firmware.aborts, 1);
}

TEST(ota_fails_with_download_failed_when_the_connection_breaks) {
  Updating rig;
  rig.http.fail_at = 50000;
  rig.start();
  rig.run();
  check_failed(rig, "download_failed");
  CHECK_EQ(rig.firmware.aborts, 1);
  CHECK(rig.firmware.written.size() <= 50000u);
}

TEST(ota_fails_with_size_mismatch_when_the_image_is_longer) {
  Updating rig;
  rig.http.body = rig.image + "trailing";
  rig.http.content_length = -1;
  rig.start();
  rig.run();
  check_failed(rig, "size_mismatch");
  CHECK_EQ(rig.firmware.aborts, 1);
  CHECK(rig.firmware.written.size() <= rig.image.size());
}

TEST(ota_fails_with_size_mismatch_when_the_image_is_shorter) {
  Updating rig;
  rig.http.body = rig.image.substr(0, rig.image.size() - 10);
  rig.http.content_length = -1;
  rig.start();
  rig.run();
  check_failed(rig, "size_mismatch");
  CHECK_EQ(rig.firmware.aborts, 1);
}

TEST(ota_fails_with_size_mismatch_at_once_when_the_server_announces_another_length) {
  Updating rig;
  rig.http.content_length = 12345;
  rig.start();
  rig.advance(10);
  check_failed(rig, "size_mismatch");
  CHECK_EQ(rig.http.reads, 0);
}

TEST(ota_fails_with_sha256_mismatch_and_drops_the_image) {
  Updating rig;
  rig.http.body = rig.image;
  rig.http.body[500] ^= 0x5a;  // same size, one byte off
  rig.start();
  rig.run();
  check_failed(rig, "sha256_mismatch");
  CHECK_STR(rig.statuses().back().str("msg"), "image sha256 does not match");
  CHECK(rig.states().find("verifying failed") != std::string::npos);
  CHECK_EQ(rig.firmware.aborts, 1);
}

TEST(ota_fails_with_write_failed_when_the_flash_refuses_a_write) {
  Updating rig;
  rig.firmware.write_fails_after = 8192;
  rig.start();
  rig.run();
  check_failed(rig, "write_failed");
  CHECK_EQ(rig.firmware.aborts, 1);
}

TEST(ota_fails_with_write_failed_when_the_slot_refuses_the_image) {
  Updating rig;
  rig.firmware.finish_result = false;
  rig.start();
  rig.run();
  auto all = rig.statuses();
  CHECK_STR(all.back().str("state"), "failed");
  CHECK_STR(all.back().str("error"), "write_failed");
  CHECK(!rig.kv.has("ota_job"));
  CHECK_EQ(rig.platform.restarts, 0);
  CHECK(rig.node->state() == ConnState::Online);
}

TEST(ota_fails_with_write_failed_when_the_job_cannot_be_recorded) {
  Updating rig;
  rig.kv.set_fails = true;
  rig.start();
  check_failed(rig, "write_failed");
  CHECK_EQ(rig.firmware.aborts, 1);
  rig.run();
  CHECK_EQ(rig.http.opens, 0);
}

TEST(a_second_update_or_a_reboot_during_an_update_is_busy_and_commands_are_still_served) {
  Updating rig;
  rig.start();
  rig.advance(50);
  Json again = rig.command(ota_command("Second1", rig.image, "1.4.4"));
  CHECK_STR(again.str("status"), "busy");
  CHECK_STR(again.str("id"), "Second1");
  Json reboot = rig.command(R"({"id":"rb1","op":"reboot"})");
  CHECK_STR(reboot.str("status"), "busy");
  CHECK_EQ(rig.platform.restarts, 0);
  Json set = rig.command(R"({"id":"srv1","op":"set","dev":"relay","params":{"on":true}})");
  CHECK_STR(set.str("status"), "ok");
  CHECK(rig.gpio.level[5]);
  // The busy answers left the download alone.
  rig.http.max_read = 4096;
  rig.advance(2000);
  CHECK(rig.firmware.written == rig.image);
}

TEST(an_ota_command_with_bad_fields_is_bad_request) {
  Updating rig;
  std::string sha = sha256_hex(rig.image);
  std::string good_url = "http://bridge.local/ota/x";
  auto cmd = [&](const std::string& url, const std::string& sha256, const std::string& size,
                 const std::string& version) {
    return R"({"id":"bad1","op":"ota","url":)" + url + R"(,"sha256":)" + sha256 + R"(,"size":)" + size +
           R"(,"version":)" + version + "}";
  };
  const std::string q = "\"";
  std::vector<std::string> cases = {
      cmd(q + "ftp://bridge/x" + q, q + sha + q, "100000", q + "1.4.3" + q),
      cmd(q + "http://" + q, q + sha + q, "100000", q + "1.4.3" + q),
      cmd(q + "http://h/" + std::string(250, 'p') + q, q + sha + q, "100000", q + "1.4.3" + q),
      cmd("42", q + sha + q, "100000", q + "1.4.3" + q),
      cmd(q + good_url + q, q + sha.substr(1) + q, "100000", q + "1.4.3" + q),
      cmd(q + good_url + q, q + std::string(64, 'A') + q, "100000", q + "1.4.3" + q),
      cmd(q + good_url + q, q + sha + q, "0", q + "1.4.3" + q),
      cmd(q + good_url + q, q + sha + q, "-5", q + "1.4.3" + q),
      cmd(q + good_url + q, q + sha + q, "1.5", q + "1.4.3" + q),
      cmd(q + good_url + q, q + sha + q, q + "100000" + q, q + "1.4.3" + q),
      cmd(q + good_url + q, q + sha + q, "100000", q + q),
      cmd(q + good_url + q, q + sha + q, "100000", q + std::string(33, 'v') + q),
      R"({"id":"bad2","op":"ota","sha256":")" + sha + R"(","size":100000,"version":"1.4.3"})",
      R"({"op":"ota","url":"http://h/x","sha256":")" + sha + R"(","size":100000,"version":"1.4.3"})",
  };
  for (const auto& c : cases) {
    Json res = rig.command(c);
    CHECK_STR(res.str("status"), "bad_request");
    CHECK(!res.str("msg").empty());
  }
  CHECK_EQ(rig.firmware.begins, 0);
  CHECK_EQ(rig.mqtt.count("/ota/status"), 0u);
  // An https URL of exactly 256 characters is fine.
  std::string url = "https://h/" + std::string(246, 'p');
  CHECK_EQ(url.size(), 256u);
  CHECK_STR(rig.command(cmd(q + url + q, q + sha + q, "100000", q + "1.4.3" + q)).str("status"), "accepted");
}

TEST(a_repeated_ota_command_is_a_duplicate_not_a_second_update) {
  Updating rig;
  rig.start();
  rig.send("cmd", ota_command(kId, rig.image, "1.4.3"));
  CHECK_STR(rig.last("/cmd/res").str("status"), "duplicate");
  CHECK_EQ(rig.firmware.begins, 1);
}

TEST(the_new_image_marks_itself_valid_and_reports_success_only_once_online) {
  Updating rig;
  rig.start();
  rig.run();
  rig.ack_all();
  CHECK_EQ(rig.platform.restarts, 1);
  // The board comes back running the new image, not yet confirmed.
  rig.firmware.running = "1.4.3";
  rig.firmware.pending = true;
  rig.restart_node();
  rig.add(DeviceKind::Switch, "relay", 5);
  CHECK(rig.begin());
  rig.connect();
  CHECK_EQ(rig.firmware.marked_valid, 0);
  CHECK_EQ(rig.mqtt.count("/ota/status"), 0u);
  rig.ack_all();
  CHECK(rig.node->state() == ConnState::Online);
  CHECK_EQ(rig.firmware.marked_valid, 1);
  auto all = rig.statuses();
  CHECK_EQ(all.size(), 1u);
  CHECK_STR(all[0].keys(), "id,state,version");
  CHECK_STR(all[0].str("id"), kId);
  CHECK_STR(all[0].str("state"), "success");
  CHECK_STR(all[0].str("version"), "1.4.3");
  // `success` follows `online`.
  size_t online_at = 0, success_at = 0;
  for (size_t i = 0; i < rig.mqtt.published.size(); ++i) {
    if (rig.mqtt.published[i].payload == "online") online_at = i;
    if (rig.mqtt.published[i].topic.find("/ota/status") != std::string::npos) success_at = i;
  }
  CHECK(success_at > online_at);
  CHECK(!rig.kv.has("ota_job"));
  // Reported once only.
  rig.send("bridge/status", "online");
  rig.ack_all();
  CHECK_EQ(rig.mqtt.count("/ota/status"), 1u);
  rig.advance(400000, 1000);
  CHECK_EQ(rig.platform.restarts, 1);
}

TEST(a_board_back_on_its_old_image_reports_rolled_back) {
  Rig rig;
  rig.kv.values["ota_job"] = R"({"id":"Ot4Xq8Lm2Nb6Vc0Z","version":"1.4.3","phase":"installed"})";
  rig.firmware.running = "1.0.0";
  CHECK(rig.begin());
  rig.online();
  Json s = rig.last("/ota/status");
  CHECK_STR(s.str("id"), kId);
  CHECK_STR(s.str("state"), "failed");
  CHECK_STR(s.str("error"), "rolled_back");
  CHECK_STR(s.str("version"), "1.4.3");
  CHECK(!rig.kv.has("ota_job"));
  CHECK_EQ(rig.firmware.marked_valid, 0);
}

TEST(an_update_cut_by_a_restart_mid_download_reports_download_failed) {
  Rig rig;
  rig.kv.values["ota_job"] = R"({"id":"Ot4Xq8Lm2Nb6Vc0Z","version":"1.4.3","phase":"downloading"})";
  CHECK(rig.begin());
  rig.connect();
  CHECK_EQ(rig.mqtt.count("/ota/status"), 0u);  // only once online
  rig.ack_all();
  Json s = rig.last("/ota/status");
  CHECK_STR(s.str("state"), "failed");
  CHECK_STR(s.str("error"), "download_failed");
  CHECK_STR(s.str("msg"), "interrupted by a restart");
  CHECK(!rig.kv.has("ota_job"));
}

TEST(a_shutdown_mid_download_drops_the_image_and_the_next_boot_reports_it) {
  Updating rig;
  rig.start();
  rig.advance(50);
  rig.node->shutdown();
  CHECK_EQ(rig.firmware.aborts, 1);
  CHECK_EQ(rig.http.closes, 1);
  CHECK(rig.kv.has("ota_job"));
  rig.restart_node();
  CHECK(rig.begin());
  rig.online();
  CHECK_STR(rig.last("/ota/status").str("msg"), "interrupted by a restart");
}

TEST(an_unreadable_job_record_is_dropped_without_a_report) {
  Rig rig;
  rig.kv.values["ota_job"] = "not json";
  CHECK(rig.begin());
  rig.online();
  CHECK_EQ(rig.mqtt.count("/ota/status"), 0u);
  CHECK(!rig.kv.has("ota_job"));
}

TEST(a_new_image_that_is_not_online_in_time_restarts_without_confirming) {
  Rig rig;
  rig.firmware.pending = true;
  CHECK(rig.begin());
  rig.node->network_up();
  rig.node->mqtt_refused(4);  // say the new image cannot log in
  rig.advance(299990, 1000);
  CHECK_EQ(rig.platform.restarts, 0);
  rig.advance(10);
  CHECK_EQ(rig.platform.restarts, 1);
  CHECK_EQ(rig.firmware.marked_valid, 0);
  CHECK(rig.node->state() == ConnState::Stopped);
  CHECK(rig.log.contains("not online"));
  rig.advance(400000, 1000);
  CHECK_EQ(rig.platform.restarts, 1);
}

TEST(the_confirm_timeout_comes_from_the_settings) {
  Rig rig;
  rig.firmware.pending = true;
  rig.settings.ota_confirm_timeout_ms = 5000;
  CHECK(rig.begin());
  rig.advance(4990);
  CHECK_EQ(rig.platform.restarts, 0);
  rig.advance(10);
  CHECK_EQ(rig.platform.restarts, 1);
}

TEST(a_confirmed_image_is_not_restarted_later) {
  Rig rig;
  rig.firmware.pending = true;
  CHECK(rig.begin());
  rig.advance(10000);
  rig.online();
  CHECK_EQ(rig.firmware.marked_valid, 1);
  rig.node->mqtt_disconnected();  // going offline later changes nothing
  rig.node->network_down();
  rig.advance(600000, 1000);
  CHECK_EQ(rig.platform.restarts, 0);
}

TEST(an_image_that_needs_no_confirmation_never_restarts_for_it) {
  Rig rig;
  rig.firmware.pending = false;
  CHECK(rig.begin());
  rig.advance(600000, 1000);
  CHECK_EQ(rig.platform.restarts, 0);
  CHECK_EQ(rig.firmware.marked_valid, 0);
}
