// hearth-node: the firmware's portable core on Linux. Composes the host ports, drives one hearth::Node from a
// single-threaded loop (libmosquitto's callbacks run inside it), and maps signals and stdin onto the node.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "curl_http.h"
#include "file_store.h"
#include "mosquitto_mqtt.h"
#include "node.h"
#include "options.h"
#include "posix_platform.h"
#include "sim_firmware.h"
#include "stderr_log.h"

using hearth::ConnState;
using hearth::LogLevel;

namespace {

volatile sig_atomic_t g_stop_signals = 0;

void on_stop_signal(int) { g_stop_signals = g_stop_signals + 1; }

void install_signal_handlers() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: the signal should cut the loop's wait short.
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Stable words for the log: tests wait for "connection: online".
const char* describe(ConnState state) {
  switch (state) {
    case ConnState::WaitingForNetwork:
      return "offline (waiting for the network)";
    case ConnState::Backoff:
      return "offline (waiting to reconnect)";
    case ConnState::Connecting:
      return "connecting";
    case ConnState::Subscribing:
      return "subscribing";
    case ConnState::Announcing:
      return "announcing";
    case ConnState::Online:
      return "online";
    case ConnState::Stopped:
      return "offline (stopped)";
  }
  return "unknown";
}

uint64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

// Lines typed on stdin with --stdin-control: "press <dev>" and "quit".
class StdinControl {
 public:
  StdinControl(hearth_host::StderrLog* log, hearth::Node* node) : log_(log), node_(node) {}
  bool open() const { return open_; }
  // Reads what is there without blocking; true when "quit" was given.
  bool poll_lines() {
    if (!open_) return false;
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    bool quit = false;
    while (!quit && ::poll(&pfd, 1, 0) > 0) {
      if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) break;
      char chunk[256];
      ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // End of input: stop reading, keep running. Only "quit" or a signal ends the node.
        log_->printf(LogLevel::Debug, "stdin closed");
        open_ = false;
        break;
      }
      for (ssize_t i = 0; i < n && !quit; ++i) quit = take(chunk[i]);
    }
    return quit;
  }

 private:
  bool take(char c) {
    if (c != '\n') {
      if (len_ < sizeof line_ - 1) {
        line_[len_++] = c;
      } else {
        overflow_ = true;
      }
      return false;
    }
    line_[len_] = '\0';
    bool long_line = overflow_;
    len_ = 0;
    overflow_ = false;
    if (long_line) {
      log_->printf(LogLevel::Warn, "stdin: line too long, ignored");
      return false;
    }
    return run(line_);
  }

  bool run(char* line) {
    // Trim surrounding white space (and a CR from a terminal or a Windows file).
    while (*line == ' ' || *line == '\t') ++line;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) return false;
    if (strcmp(line, "quit") == 0) return true;
    if (strncmp(line, "press ", 6) == 0) {
      const char* dev = line + 6;
      while (*dev == ' ') ++dev;
      if (!node_->press(dev)) log_->printf(LogLevel::Warn, "stdin: press %s: no such device", dev);
      return false;
    }
    log_->printf(LogLevel::Warn, "stdin: unknown command \"%s\" (press <device-id>, quit)", line);
    return false;
  }

  hearth_host::StderrLog* log_;
  hearth::Node* node_;
  bool open_ = true;
  char line_[256] = {};
  size_t len_ = 0;
  bool overflow_ = false;
};

struct Libraries {
  hearth_host::MosquittoMqtt* mqtt;
  hearth_host::CurlHttp* http;
};

void release_libraries(void* arg) {
  Libraries* libs = static_cast<Libraries*>(arg);
  libs->mqtt->release();
  libs->http->release();
}

// Static rather than on the stack: the options hold a 32 KiB buffer for the CA.
hearth_host::Options g_options;

}  // namespace

int main(int argc, char** argv) {
  hearth_host::StderrLog log;
  char error[300];
  hearth_host::Options& opt = g_options;
  switch (hearth_host::parse_options(argc, argv, &opt, error, sizeof error)) {
    case hearth_host::ParseResult::Help:
      hearth_host::print_help();
      return 0;
    case hearth_host::ParseResult::UsageError:
      fprintf(stderr, "hearth-node: %s\n", error);
      return 2;
    case hearth_host::ParseResult::Run:
      break;
  }
  log.set_node_id(opt.node_id);
  log.set_level(opt.log_level);

  // Set by restart() for the re-executed program: this start is a reboot, not a fresh install.
  bool rebooted = getenv(hearth_host::kRestartedEnv) != nullptr;
  unsetenv(hearth_host::kRestartedEnv);

  if (!hearth_host::make_dirs(opt.state_dir, 0700)) {
    log.printf(LogLevel::Error, "cannot create the state folder %s: %s", opt.state_dir, strerror(errno));
    return 1;
  }
  char kv_dir[600], fw_dir[600], ca_path[600];
  snprintf(kv_dir, sizeof kv_dir, "%s/kv", opt.state_dir);
  snprintf(fw_dir, sizeof fw_dir, "%s/fw", opt.state_dir);
  snprintf(ca_path, sizeof ca_path, "%s/mqtt-ca.pem", opt.state_dir);

  hearth_host::PosixClock clock(!opt.unsynced_clock);
  hearth_host::PosixRandom random;
  hearth_host::FileStore kv(&log);
  hearth_host::LoggingGpio gpio(&log);
  hearth_host::SimSensors sensors(&clock, opt.temperature_c, opt.humidity_pct);
  hearth_host::CurlHttp http(&log);
  hearth_host::SimFirmware firmware(&log, opt.fw_version, opt.ota_max_bytes);
  hearth_host::PosixPlatform platform(argv, &log);
  hearth_host::MosquittoMqtt mqtt(&log, ca_path);
  Libraries libraries = {&mqtt, &http};
  platform.set_before_restart(release_libraries, &libraries);

  if (!kv.open(kv_dir) || !firmware.boot(fw_dir) || !http.init() || !mqtt.init()) return 1;
  log.printf(LogLevel::Info, "%s firmware %s, state in %s", rebooted ? "rebooted," : "starting,",
             firmware.running_version(), opt.state_dir);

  hearth::Ports ports = {&clock, &random, &mqtt, &kv, &gpio, &sensors, &http, &firmware, &platform, &log};
  install_signal_handlers();

  if (opt.claim_url != nullptr && !rebooted) {
    char message[200] = {};
    hearth::ClaimOutcome outcome =
        hearth::claim_node(ports, opt.claim_url, opt.node_id, opt.claim_token, message, sizeof message);
    switch (outcome) {
      case hearth::ClaimOutcome::Ok:
        break;  // the core has logged it, with the broker it got
      case hearth::ClaimOutcome::Refused:
        log.printf(LogLevel::Error, "claim refused: %s", message[0] ? message : "the bridge refused the token");
        return 3;
      case hearth::ClaimOutcome::Unreachable:
      case hearth::ClaimOutcome::BadResponse:
        log.printf(LogLevel::Error, "claim failed: %s", message[0] ? message : "no usable answer from the bridge");
        return 4;
      case hearth::ClaimOutcome::StorageFailed:
        log.printf(LogLevel::Error, "claim failed: %s", message[0] ? message : "cannot store the credentials");
        return 1;
    }
  }

  if (opt.broker == nullptr) {
    hearth::Credentials stored;
    if (!hearth::load_credentials(kv, &stored)) {
      fprintf(stderr, "hearth-node: no broker: give --broker, or --claim and --claim-token to obtain credentials\n");
      return 2;
    }
  }

  hearth::Node node(ports);
  mqtt.set_node(&node);
  for (int i = 0; i < opt.device_count; ++i) {
    if (!node.add_device(opt.devices[i])) return 2;  // the core has logged why
  }

  struct utsname uts;
  static char chip[sizeof uts.machine];
  snprintf(chip, sizeof chip, "%s", uname(&uts) == 0 ? uts.machine : "linux");

  hearth::NodeSettings settings = {};
  settings.node_id = opt.node_id;
  settings.topic_prefix = opt.prefix;
  settings.mqtt_uri = opt.broker;
  settings.username = opt.username;
  settings.password = opt.password;
  settings.ca_pem = opt.ca_pem;
  settings.keepalive_s = opt.keepalive_s;
  settings.name = opt.name;
  settings.fw_version = nullptr;  // the simulated slots decide: it changes with an update and a rollback
  settings.fw_build = nullptr;
  settings.hw_model = "hearth-node";
  settings.chip = chip;
  settings.mac = nullptr;
  settings.telemetry_interval_ms = opt.telemetry_interval_ms;
  settings.sensor_interval_ms = opt.sensor_interval_ms;
  settings.ota_confirm_timeout_ms = opt.ota_confirm_timeout_ms;
  if (!node.begin(settings)) return 2;  // the core has logged why

  // The host's "Wi-Fi" is always up, except in a simulated image that cannot reach the broker: that one never
  // gets a network, so it never connects and its confirm timeout restarts it into a rollback.
  if (firmware.broken_image_running()) {
    log.printf(LogLevel::Warn, "simulated broken image %s: not connecting to the broker", firmware.running_version());
  } else {
    node.network_up();
  }

  StdinControl control(&log, &node);
  bool stopping = false;
  uint64_t stop_deadline = 0;
  int signals_seen = 0;
  ConnState shown = node.state();
  log.printf(LogLevel::Info, "connection: %s", describe(shown));

  for (;;) {
    // Wait for the broker's socket, or sleep, for at most 20 ms: tick() wants to run every 50 ms or more often.
    // While a download is open the core reads a few KB per tick, so the wait shrinks to 1 ms then: the image
    // comes up to about 4 MB/s instead of 200 KB/s, and MQTT is still serviced between two chunks.
    int wait_ms = http.transfer_open() ? 1 : 20;
    if (mqtt.has_socket()) {
      mqtt.service(wait_ms);
    } else {
      mqtt.service(0);
      struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
      bool watch_stdin = opt.stdin_control && control.open();
      ::poll(watch_stdin ? &pfd : nullptr, watch_stdin ? 1 : 0, wait_ms);
    }
    node.tick();

    bool quit = opt.stdin_control && control.poll_lines();
    if (g_stop_signals != signals_seen) {
      signals_seen = g_stop_signals;
      if (stopping) {
        log.printf(LogLevel::Warn, "second signal: exiting without waiting for the broker");
        break;
      }
      quit = true;
    }
    if (quit && !stopping) {
      log.printf(LogLevel::Info, "shutting down");
      stopping = true;
      stop_deadline = now_ms() + 2000;
      node.shutdown();
    }

    ConnState state = node.state();
    if (state != shown) {
      shown = state;
      log.printf(LogLevel::Info, "connection: %s", describe(state));
    }
    if (platform.restart_requested() && !stopping) {
      // Let the DISCONNECT the core asked for reach the broker (else it would publish the will), then reboot.
      uint64_t deadline = now_ms() + 1000;
      while (mqtt.active() && now_ms() < deadline) mqtt.service(mqtt.has_socket() ? 20 : 0);
      mqtt.set_node(nullptr);
      platform.reexec();
    }
    if (stopping) {
      if (state == ConnState::Stopped && !mqtt.active()) break;
      if (now_ms() >= stop_deadline) {
        log.printf(LogLevel::Warn, "the broker did not confirm the disconnect within 2 s; exiting anyway");
        break;
      }
    }
  }
  mqtt.set_node(nullptr);
  release_libraries(&libraries);
  log.printf(LogLevel::Info, "stopped");
  return 0;
}
