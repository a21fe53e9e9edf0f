// Claiming (POST <bridge>/api/v1/claim, answered by src/http/claim-route.ts) and the credentials it stores.
// The credentials are one JSON record under one key, so that a power cut while storing them leaves either
// the old record or the new one, never half of each.
#include "claim.h"

#include <string.h>

#include "cJSON.h"
#include "logging.h"
#include "text.h"

namespace hearth {

namespace {

constexpr size_t kUrlCap = 320;
constexpr size_t kBodyCap = 256;
constexpr size_t kResponseCap = 1024;
constexpr size_t kRecordCap = 640;

ClaimOutcome say(ClaimOutcome outcome, char* message, size_t cap, const char* a, const char* b = nullptr,
                 const char* c = nullptr) {
  if (message != nullptr && cap > 0) text::Writer(message, cap).str(a).str(b).str(c);
  return outcome;
}

const char* string_field(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(item) ? item->valuestring : nullptr;
}

bool is_broker_url(const char* url) {
  return text::starts_with(url, "mqtt://") || text::starts_with(url, "mqtts://");
}

bool is_refusal(int status) {
  return status == 400 || status == 401 || status == 403 || status == 404 || status == 409 || status == 410 ||
         status == 429;
}

bool store_credentials(KeyValueStore& kv, const Credentials& c) {
  cJSON* record = cJSON_CreateObject();
  bool ok = record != nullptr && cJSON_AddStringToObject(record, "mqtt_uri", c.mqtt_uri) != nullptr &&
            cJSON_AddStringToObject(record, "username", c.username) != nullptr &&
            cJSON_AddStringToObject(record, "password", c.password) != nullptr &&
            cJSON_AddStringToObject(record, "topic_prefix", c.topic_prefix) != nullptr;
  char text[kRecordCap];
  ok = ok && cJSON_PrintPreallocated(record, text, sizeof text, false);
  cJSON_Delete(record);
  return ok && kv.set(kCredentialsKey, text, strlen(text));
}

}  // namespace

ClaimOutcome claim_node(const Ports& ports, const char* bridge_url, const char* node_id, const char* claim_token,
                        char* message, size_t message_cap) {
  if (message != nullptr && message_cap > 0) message[0] = '\0';
  if (!text::is_node_id(node_id)) {
    return say(ClaimOutcome::Refused, message, message_cap, "invalid node id");
  }
  size_t token_len = text::bounded_length(claim_token, 128);
  if (token_len == 0 || token_len > 128) {
    return say(ClaimOutcome::Refused, message, message_cap, "the claim token must be 1-128 characters");
  }
  if (!(text::starts_with(bridge_url, "http://") || text::starts_with(bridge_url, "https://"))) {
    return say(ClaimOutcome::Unreachable, message, message_cap, "the bridge URL must start with http:// or https://");
  }

  char url[kUrlCap];
  text::Writer u(url, sizeof url);
  size_t base_len = strlen(bridge_url);
  // "http://bridge:8080/" and "http://bridge:8080" name the same bridge.
  if (base_len > 0 && bridge_url[base_len - 1] == '/') --base_len;
  for (size_t i = 0; i < base_len; ++i) u.chr(bridge_url[i]);
  u.str("/api/v1/claim");
  if (u.truncated()) return say(ClaimOutcome::Unreachable, message, message_cap, "the bridge URL is too long");

  char body[kBodyCap];
  cJSON* request = cJSON_CreateObject();
  bool built = request != nullptr && cJSON_AddStringToObject(request, "node_id", node_id) != nullptr &&
               cJSON_AddStringToObject(request, "claim_token", claim_token) != nullptr &&
               cJSON_PrintPreallocated(request, body, sizeof body, false);
  cJSON_Delete(request);
  if (!built) return say(ClaimOutcome::BadResponse, message, message_cap, "could not build the claim request");

  char response[kResponseCap];
  response[0] = '\0';
  int status = ports.http->post_json(url, body, response, sizeof response);
  if (status < 0) {
    LogLine(ports.log, LogLevel::Warn).w().str("claim: no answer from ").str(url);
    return say(ClaimOutcome::Unreachable, message, message_cap, "no answer from ", url);
  }

  cJSON* json = cJSON_Parse(response);
  if (is_refusal(status)) {
    // The daemon says why ({"error":{"code","message"}}): an expired token, one for another node…
    const char* reason = string_field(cJSON_GetObjectItemCaseSensitive(json, "error"), "message");
    char fallback[64];
    text::Writer(fallback, sizeof fallback).str("the bridge refused the claim (HTTP ").num(status).str(")");
    say(ClaimOutcome::Refused, message, message_cap, reason != nullptr ? reason : fallback);
    LogLine(ports.log, LogLevel::Warn).w().str("claim: refused: ").str(reason != nullptr ? reason : fallback);
    cJSON_Delete(json);
    return ClaimOutcome::Refused;
  }
  if (status != 200) {
    cJSON_Delete(json);
    char what[48];
    text::Writer(what, sizeof what).str("unexpected answer HTTP ").num(status);
    return say(ClaimOutcome::BadResponse, message, message_cap, what, " from ", url);
  }

  Credentials c = {};
  const char* answered_node = string_field(json, "node_id");
  const char* uri = string_field(json, "mqtt_url");
  const char* prefix = string_field(json, "topic_prefix");
  bool usable = json != nullptr && (answered_node == nullptr || text::equal(answered_node, node_id)) &&
                uri != nullptr && is_broker_url(uri) && text::copy(c.mqtt_uri, sizeof c.mqtt_uri, uri) &&
                text::copy(c.username, sizeof c.username, string_field(json, "username")) && c.username[0] != '\0' &&
                text::copy(c.password, sizeof c.password, string_field(json, "password")) && c.password[0] != '\0' &&
                text::copy(c.topic_prefix, sizeof c.topic_prefix, prefix != nullptr ? prefix : "hearth/v1") &&
                c.topic_prefix[0] != '\0';
  cJSON_Delete(json);
  if (!usable) {
    return say(ClaimOutcome::BadResponse, message, message_cap,
               "the bridge's answer lacks usable credentials (node_id, username, password, mqtt_url)");
  }
  if (!store_credentials(*ports.kv, c)) {
    return say(ClaimOutcome::StorageFailed, message, message_cap, "could not store the credentials");
  }
  LogLine(ports.log, LogLevel::Info).w().str("claim: ").str(node_id).str(" claimed; broker ").str(c.mqtt_uri);
  return say(ClaimOutcome::Ok, message, message_cap, "claimed; credentials stored");
}

bool load_credentials(KeyValueStore& kv, Credentials* out) {
  char stored[kRecordCap];
  int n = kv.get(kCredentialsKey, stored, sizeof stored - 1);
  if (n <= 0) return false;
  stored[n] = '\0';
  cJSON* record = cJSON_Parse(stored);
  Credentials c = {};
  const char* prefix = string_field(record, "topic_prefix");
  bool ok = record != nullptr && text::copy(c.mqtt_uri, sizeof c.mqtt_uri, string_field(record, "mqtt_uri")) &&
            c.mqtt_uri[0] != '\0' && text::copy(c.username, sizeof c.username, string_field(record, "username")) &&
            text::copy(c.password, sizeof c.password, string_field(record, "password")) && c.password[0] != '\0' &&
            text::copy(c.topic_prefix, sizeof c.topic_prefix,
                       prefix != nullptr && prefix[0] != '\0' ? prefix : "hearth/v1");
  cJSON_Delete(record);
  if (ok) *out = c;
  return ok;
}

bool forget_credentials(KeyValueStore& kv) { return kv.erase(kCredentialsKey); }

}  // namespace hearth
