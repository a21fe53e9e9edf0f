#include "codec.h"

#include <string.h>

#include "sha256.h"

namespace hearth {

namespace {

// cJSON_Add* return nullptr when malloc fails; every builder below carries one `ok` so that a message that
// lost a field on the way is never published.
bool add_string(cJSON* obj, const char* key, const char* value) {
  return cJSON_AddStringToObject(obj, key, value) != nullptr;
}

bool add_optional_string(cJSON* obj, const char* key, const char* value) {
  if (value == nullptr || value[0] == '\0') return true;
  return add_string(obj, key, value);
}

bool add_number(cJSON* obj, const char* key, double value) {
  return cJSON_AddNumberToObject(obj, key, value) != nullptr;
}

bool add_bool(cJSON* obj, const char* key, bool value) { return cJSON_AddBoolToObject(obj, key, value) != nullptr; }

// Prints without formatting and checks the protocol's size limit, not just the buffer.
bool print_into(cJSON* root, char* out, size_t cap, size_t limit) {
  if (cap == 0) return false;
  out[0] = '\0';
  if (root == nullptr) return false;
  if (!cJSON_PrintPreallocated(root, out, static_cast<int>(cap), false)) {
    out[0] = '\0';
    return false;
  }
  if (strlen(out) > limit) {
    out[0] = '\0';
    return false;
  }
  return true;
}

bool add_state_values(cJSON* obj, const Device& device) {
  bool ok = true;
  for (int i = 0; i < device.param_count() && ok; ++i) {
    const ParamDecl& decl = device.param(i);
    const Value& v = device.value(i);
    if (!v.present) continue;  // a reading not taken yet is left out, not sent as null
    switch (decl.type) {
      case ValueType::Bool:
        ok = add_bool(obj, decl.id, v.number != 0);
        break;
      case ValueType::Int:
      case ValueType::Float:
        ok = add_number(obj, decl.id, v.number);
        break;
      case ValueType::Enum: {
        int index = static_cast<int>(v.number);
        ok = index >= 0 && index < decl.value_count && add_string(obj, decl.id, decl.values[index]);
        break;
      }
    }
  }
  return ok;
}

const char* type_name(ValueType type) {
  switch (type) {
    case ValueType::Bool: return "bool";
    case ValueType::Int: return "int";
    case ValueType::Float: return "float";
    case ValueType::Enum: return "enum";
  }
  return "string";
}

cJSON* param_declaration(const ParamDecl& decl) {
  cJSON* p = cJSON_CreateObject();
  if (p == nullptr) return nullptr;
  bool ok = add_string(p, "id", decl.id) && add_string(p, "type", type_name(decl.type)) &&
            add_string(p, "rw", decl.access == Access::Read ? "r" : "rw");
  if (ok && decl.ranged) ok = add_number(p, "min", decl.min) && add_number(p, "max", decl.max);
  if (ok && decl.step > 0) ok = add_number(p, "step", decl.step);
  if (ok) ok = add_optional_string(p, "unit", decl.unit);
  if (ok && decl.type == ValueType::Enum) {
    cJSON* values = cJSON_AddArrayToObject(p, "values");
    ok = values != nullptr;
    for (int i = 0; ok && i < decl.value_count; ++i) {
      cJSON* s = cJSON_CreateString(decl.values[i]);
      ok = s != nullptr;
      if (ok) cJSON_AddItemToArray(values, s);
    }
  }
  if (!ok) {
    cJSON_Delete(p);
    return nullptr;
  }
  return p;
}

cJSON* device_declaration(const Device& device) {
  cJSON* d = cJSON_CreateObject();
  if (d == nullptr) return nullptr;
  bool ok = add_string(d, "id", device.id()) && add_string(d, "type", device.type_name()) &&
            add_optional_string(d, "name", device.name()) && add_optional_string(d, "class", device.device_class());
  cJSON* params = ok ? cJSON_AddArrayToObject(d, "params") : nullptr;
  ok = ok && params != nullptr;
  for (int i = 0; ok && i < device.param_count(); ++i) {
    cJSON* p = param_declaration(device.param(i));
    ok = p != nullptr;
    if (ok) cJSON_AddItemToArray(params, p);
  }
  if (!ok) {
    cJSON_Delete(d);
    return nullptr;
  }
  return d;
}

bool is_integer(double d) {
  if (!text::is_finite(d) || d > 9e15 || d < -9e15) return false;
  return static_cast<double>(static_cast<int64_t>(d)) == d;
}

// ---- scan_id: a top-level key scanner over raw bytes ----

struct Scanner {
  const uint8_t* p;
  size_t len;
  size_t pos;

  bool more() const { return pos < len; }
  uint8_t peek() const { return p[pos]; }
  void skip_ws() {
    while (more() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos;
  }
  // At an opening quote: moves past the closing one.
  bool skip_string() {
    ++pos;
    while (more()) {
      uint8_t c = p[pos++];
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        return true;
      }
    }
    return false;
  }
  // Skips one value of any kind; nested brackets are counted, strings skipped whole.
  bool skip_value() {
    int depth = 0;
    while (more()) {
      uint8_t c = peek();
      if (c == '"') {
        if (!skip_string()) return false;
        if (depth == 0) return true;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return true;  // the end of the enclosing object
        --depth;
        if (depth == 0) {
          ++pos;
          return true;
        }
      } else if (c == ',' && depth == 0) {
        return true;
      }
      ++pos;
    }
    return false;
  }
};

}  // namespace

bool encode_state(const Device& device, bool with_seq, uint32_t seq, char* out, size_t cap) {
  cJSON* root = cJSON_CreateObject();
  bool ok = root != nullptr && add_state_values(root, device);
  if (ok && with_seq) ok = add_number(root, "seq", seq);
  ok = ok && print_into(root, out, cap, kMaxMessageBytes);
  cJSON_Delete(root);
  return ok;
}

bool encode_config(const ConfigFields& fields, char* out, size_t cap) {
  cJSON* root = cJSON_CreateObject();
  if (root == nullptr) return false;
  bool ok = add_string(root, "node_id", fields.node_id) && add_number(root, "proto", 1);
  // A placeholder of the final length: the hash is taken over the printed config with it, then written in.
  // The placeholder is the same every time, so the hash changes exactly when the rest of the content does.
  cJSON* hash_item = ok ? cJSON_AddStringToObject(root, "cfg_hash", "00000000") : nullptr;
  ok = ok && hash_item != nullptr && add_optional_string(root, "name", fields.name);
  if (ok && ((fields.fw_version != nullptr && fields.fw_version[0] != '\0') ||
             (fields.fw_build != nullptr && fields.fw_build[0] != '\0'))) {
    cJSON* fw = cJSON_AddObjectToObject(root, "fw");
    ok = fw != nullptr && add_optional_string(fw, "version", fields.fw_version) &&
         add_optional_string(fw, "build", fields.fw_build);
  }
  bool any_hw = (fields.hw_model != nullptr && fields.hw_model[0] != '\0') ||
                (fields.chip != nullptr && fields.chip[0] != '\0') || (fields.mac != nullptr && fields.mac[0] != '\0');
  if (ok && any_hw) {
    cJSON* hw = cJSON_AddObjectToObject(root, "hw");
    ok = hw != nullptr && add_optional_string(hw, "model", fields.hw_model) &&
         add_optional_string(hw, "chip", fields.chip) && add_optional_string(hw, "mac", fields.mac);
  }
  cJSON* devices = ok ? cJSON_AddArrayToObject(root, "devices") : nullptr;
  ok = ok && devices != nullptr;
  for (int i = 0; ok && i < fields.device_count; ++i) {
    cJSON* d = device_declaration(fields.devices[i]);
    ok = d != nullptr;
    if (ok) cJSON_AddItemToArray(devices, d);
  }
  if (ok) {
    cJSON* services = cJSON_AddObjectToObject(root, "services");
    ok = services != nullptr && add_bool(services, "identify", true) && add_bool(services, "reboot", true) &&
         add_bool(services, "ota", true);
  }
  ok = ok && print_into(root, out, cap, kMaxConfigBytes);
  if (ok) {
    uint8_t digest[kSha256Bytes];
    sha256(out, strlen(out), digest);
    // Same length as the placeholder, so the string cJSON allocated for it takes the hash in place.
    text::to_hex(digest, 4, hash_item->valuestring);
    ok = print_into(root, out, cap, kMaxConfigBytes);
  }
  cJSON_Delete(root);
  return ok;
}

bool encode_response(const ResponseFields& fields, char* out, size_t cap) {
  cJSON* root = cJSON_CreateObject();
  if (root == nullptr) return false;
  bool ok = fields.id != nullptr ? add_string(root, "id", fields.id) : cJSON_AddNullToObject(root, "id") != nullptr;
  ok = ok && add_string(root, "status", fields.status) && add_optional_string(root, "dev", fields.dev);
  if (ok && fields.state_of != nullptr) {
    cJSON* state = cJSON_AddObjectToObject(root, "state");
    ok = state != nullptr && add_state_values(state, *fields.state_of);
  }
  if (ok && fields.has_seq) ok = add_number(root, "seq", fields.seq);
  if (ok && fields.msg != nullptr && fields.msg[0] != '\0') {
    // The protocol's limit is 200 characters; cut on a byte boundary that is not inside a UTF-8 sequence.
    char msg[kMsgChars + 1];
    size_t n = text::bounded_length(fields.msg, kMsgChars);
    if (n > kMsgChars) {
      n = kMsgChars;
      while (n > 0 && (static_cast<uint8_t>(fields.msg[n]) & 0xC0) == 0x80) --n;
    }
    memcpy(msg, fields.msg, n);
    msg[n] = '\0';
    ok = add_string(root, "msg", msg);
  }
  ok = ok && print_into(root, out, cap, kMaxMessageBytes);
  cJSON_Delete(root);
  return ok;
}

bool encode_ota_status(const OtaStatus& status, char* out, size_t cap) {
  cJSON* root = cJSON_CreateObject();
  if (root == nullptr) return false;
  bool ok = add_string(root, "id", status.id) && add_string(root, "state", ota_state_name(status.state));
  if (ok && status.progress >= 0) ok = add_number(root, "progress", status.progress);
  ok = ok && add_optional_string(root, "version", status.version) && add_optional_string(root, "error", status.error) &&
       add_optional_string(root, "msg", status.msg);
  ok = ok && print_into(root, out, cap, kMaxMessageBytes);
  cJSON_Delete(root);
  return ok;
}

bool encode_telemetry(const TelemetryFields& fields, char* out, size_t cap) {
  cJSON* root = cJSON_CreateObject();
  if (root == nullptr) return false;
  bool ok = true;
  if (fields.rssi != 0) ok = add_number(root, "rssi", fields.rssi);
  ok = ok && add_number(root, "heap", fields.heap) && add_number(root, "uptime_s", static_cast<double>(fields.uptime_s)) &&
       add_optional_string(root, "ip", fields.ip);
  ok = ok && print_into(root, out, cap, kMaxMessageBytes);
  cJSON_Delete(root);
  return ok;
}

const char* op_name(Op op) {
  switch (op) {
    case Op::Set: return "set";
    case Op::Get: return "get";
    case Op::Stop: return "stop";
    case Op::Identify: return "identify";
    case Op::Reboot: return "reboot";
    case Op::Ota: return "ota";
  }
  return "?";
}

bool scan_id(const uint8_t* payload, size_t len, char out[kCommandIdChars + 1]) {
  out[0] = '\0';
  Scanner s = {payload, len, 0};
  s.skip_ws();
  if (!s.more() || s.peek() != '{') return false;
  ++s.pos;
  while (true) {
    s.skip_ws();
    if (!s.more() || s.peek() != '"') return false;
    size_t key_start = s.pos + 1;
    if (!s.skip_string()) return false;
    size_t key_len = s.pos - 1 - key_start;
    bool is_id = key_len == 2 && payload[key_start] == 'i' && payload[key_start + 1] == 'd';
    s.skip_ws();
    if (!s.more() || s.peek() != ':') return false;
    ++s.pos;
    s.skip_ws();
    if (is_id) {
      // Only a plain string id is taken: one with escapes is not worth decoding for an error answer.
      if (!s.more() || s.peek() != '"') return false;
      size_t start = s.pos + 1;
      size_t end = start;
      while (end < len && payload[end] != '"' && payload[end] != '\\' && end - start <= kCommandIdChars) ++end;
      if (end >= len || payload[end] != '"' || end == start || end - start > kCommandIdChars) return false;
      memcpy(out, payload + start, end - start);
      out[end - start] = '\0';
      return true;
    }
    if (!s.skip_value()) return false;
    s.skip_ws();
    if (!s.more() || s.peek() != ',') return false;
    ++s.pos;
  }
}

bool parse_envelope(const cJSON* root, Envelope* out, text::Writer& why) {
  memset(out, 0, sizeof *out);
  if (!cJSON_IsObject(root)) {
    why.str("command must be a JSON object");
    return false;
  }
  // The id first, so that every later complaint can carry it.
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(root, "id");
  if (id != nullptr && !cJSON_IsNull(id)) {
    if (!cJSON_IsString(id)) {
      why.str("id must be a string or null");
      return false;
    }
    size_t n = text::bounded_length(id->valuestring, kCommandIdChars);
    if (n == 0 || n > kCommandIdChars) {
      why.str("id must be 1-32 characters");
      return false;
    }
    out->has_id = true;
    text::copy(out->id, sizeof out->id, id->valuestring);
  }

  const cJSON* op = cJSON_GetObjectItemCaseSensitive(root, "op");
  static const Op kOps[] = {Op::Set, Op::Get, Op::Stop, Op::Identify, Op::Reboot, Op::Ota};
  bool known = false;
  if (cJSON_IsString(op)) {
    for (Op candidate : kOps) {
      if (text::equal(op->valuestring, op_name(candidate))) {
        out->op = candidate;
        known = true;
      }
    }
  }
  if (!known) {
    why.str("op must be one of set, get, stop, identify, reboot, ota");
    return false;
  }

  const cJSON* dev = cJSON_GetObjectItemCaseSensitive(root, "dev");
  if (dev != nullptr) {
    if (!cJSON_IsString(dev) || !text::is_dev_id(dev->valuestring)) {
      why.str("dev must be a device id (1-32 characters of a-z, 0-9 and _)");
      return false;
    }
    out->has_dev = true;
    text::copy(out->dev, sizeof out->dev, dev->valuestring);
  }

  const cJSON* params = cJSON_GetObjectItemCaseSensitive(root, "params");
  if (params != nullptr) {
    if (!cJSON_IsObject(params)) {
      why.str("params must be an object");
      return false;
    }
    for (const cJSON* p = params->child; p != nullptr; p = p->next) {
      bool fits = cJSON_IsBool(p) || (cJSON_IsNumber(p) && text::is_finite(p->valuedouble)) ||
                  (cJSON_IsString(p) && text::bounded_length(p->valuestring, 64) <= 64);
      if (!fits) {
        why.str("params.").str(p->string).str(" must be true, false, a number or a string of at most 64 characters");
        return false;
      }
    }
    out->params = params;
  }

  const cJSON* exp = cJSON_GetObjectItemCaseSensitive(root, "exp");
  if (exp != nullptr) {
    if (!cJSON_IsNumber(exp) || !is_integer(exp->valuedouble) || exp->valuedouble <= 0) {
      why.str("exp must be a positive whole number of Unix seconds");
      return false;
    }
    out->has_exp = true;
    out->exp = static_cast<int64_t>(exp->valuedouble);
  }
  return true;
}

bool parse_ota_request(const cJSON* root, OtaRequest* out, text::Writer& why) {
  const cJSON* url = cJSON_GetObjectItemCaseSensitive(root, "url");
  if (!cJSON_IsString(url) || !(text::starts_with(url->valuestring, "http://") ||
                                text::starts_with(url->valuestring, "https://"))) {
    why.str("url must be an http:// or https:// URL");
    return false;
  }
  size_t scheme = text::starts_with(url->valuestring, "https://") ? 8 : 7;
  size_t n = text::bounded_length(url->valuestring, kOtaUrlChars);
  if (n > kOtaUrlChars || n <= scheme) {
    why.str("url must have a host and at most 256 characters");
    return false;
  }
  const cJSON* sha = cJSON_GetObjectItemCaseSensitive(root, "sha256");
  if (!cJSON_IsString(sha) || !text::is_lower_hex(sha->valuestring, 64)) {
    why.str("sha256 must be 64 lower-case hex digits");
    return false;
  }
  const cJSON* size = cJSON_GetObjectItemCaseSensitive(root, "size");
  if (!cJSON_IsNumber(size) || !is_integer(size->valuedouble) || size->valuedouble <= 0 ||
      size->valuedouble > 4294967295.0) {
    why.str("size must be a whole number of bytes above 0");
    return false;
  }
  const cJSON* version = cJSON_GetObjectItemCaseSensitive(root, "version");
  size_t vn = cJSON_IsString(version) ? text::bounded_length(version->valuestring, kOtaVersionChars) : 0;
  if (vn == 0 || vn > kOtaVersionChars) {
    why.str("version must be 1-32 characters");
    return false;
  }
  text::copy(out->url, sizeof out->url, url->valuestring);
  text::copy(out->sha256, sizeof out->sha256, sha->valuestring);
  out->size = static_cast<uint32_t>(size->valuedouble);
  text::copy(out->version, sizeof out->version, version->valuestring);
  return true;
}

}  // namespace hearth
