#include "dispatcher.h"

#include <string.h>

#include "text.h"

namespace hearth {

namespace {

constexpr int kMaxChanges = 16;  // params per device (protocol §17)

Outcome* fail(Outcome* out, Status status) {
  out->status = status;
  out->follow_up = FollowUp::None;
  return out;
}

int find_device(const DispatchContext& context, const char* dev) {
  for (int i = 0; i < context.device_count; ++i) {
    if (text::equal(context.devices[i].id(), dev)) return i;
  }
  return -1;
}

bool has_params(const cJSON* params) { return params != nullptr && params->child != nullptr; }

void describe_range(text::Writer& msg, const ParamDecl& decl, double got) {
  msg.str("\"").str(decl.id).str("\" must be between ").decimal(decl.min).str(" and ").decimal(decl.max);
  if (decl.unit != nullptr) msg.str(" ").str(decl.unit);
  msg.str(", got ").decimal(got);
}

void describe_values(text::Writer& msg, const ParamDecl& decl) {
  msg.str("\"").str(decl.id).str("\" must be one of ");
  for (int i = 0; i < decl.value_count; ++i) msg.str(i == 0 ? "" : ", ").str(decl.values[i]);
}

// Checks one value against its declaration (§9 step 11). BadRequest for a wrong type or an undeclared enum
// value, OutOfRange for a number outside min..max; Ok with the value to apply otherwise.
Status check_value(const ParamDecl& decl, const cJSON* item, Value* value, text::Writer& msg) {
  switch (decl.type) {
    case ValueType::Bool:
      if (!cJSON_IsBool(item)) {
        msg.str("\"").str(decl.id).str("\" must be true or false");
        return Status::BadRequest;
      }
      *value = Value{true, cJSON_IsTrue(item) ? 1.0 : 0.0};
      return Status::Ok;
    case ValueType::Int:
    case ValueType::Float: {
      if (!cJSON_IsNumber(item) || !text::is_finite(item->valuedouble)) {
        msg.str("\"").str(decl.id).str("\" must be a number");
        return Status::BadRequest;
      }
      double n = item->valuedouble;
      // Beyond 9e15 every double is whole (and the cast would overflow); the range check refuses those.
      bool whole = n > 9e15 || n < -9e15 || static_cast<double>(static_cast<int64_t>(n)) == n;
      if (decl.type == ValueType::Int && !whole) {
        msg.str("\"").str(decl.id).str("\" must be a whole number, got ").decimal(n);
        return Status::BadRequest;
      }
      if (decl.ranged && (n < decl.min || n > decl.max)) {
        describe_range(msg, decl, n);
        return Status::OutOfRange;
      }
      *value = Value{true, n};
      return Status::Ok;
    }
    case ValueType::Enum:
      if (cJSON_IsString(item)) {
        for (int i = 0; i < decl.value_count; ++i) {
          if (text::equal(decl.values[i], item->valuestring)) {
            *value = Value{true, static_cast<double>(i)};
            return Status::Ok;
          }
        }
      }
      describe_values(msg, decl);
      return Status::BadRequest;
  }
  return Status::BadRequest;
}

// §9 steps 9-11 for a set: every name first, then read-only, then the values, so the answer names the
// problem a user fixes first. Nothing is applied unless everything passed.
Status check_set(const Device& device, const cJSON* params, Change* changes, int* count, text::Writer& msg) {
  *count = 0;
  if (!has_params(params)) {
    msg.str("\"set\" needs params");
    return Status::BadRequest;
  }
  for (const cJSON* p = params->child; p != nullptr; p = p->next) {
    if (device.find_param(p->string) < 0) {
      msg.str("\"").str(p->string).str("\" is not a param of this ").str(device.type_name());
      return Status::UnknownParam;
    }
  }
  for (const cJSON* p = params->child; p != nullptr; p = p->next) {
    if (device.param(device.find_param(p->string)).access == Access::Read) {
      msg.str("\"").str(p->string).str("\" is read-only");
      return Status::ReadOnly;
    }
  }
  for (const cJSON* p = params->child; p != nullptr; p = p->next) {
    if (*count >= kMaxChanges) {
      msg.str("too many params");
      return Status::BadRequest;
    }
    int index = device.find_param(p->string);
    Value value = {};
    Status status = check_value(device.param(index), p, &value, msg);
    if (status != Status::Ok) return status;
    changes[*count] = Change{static_cast<uint8_t>(index), value};
    ++*count;
  }
  return Status::Ok;
}

void handle_device_op(const Envelope& env, DispatchContext& context, Outcome* out, text::Writer& msg) {
  // §9 step 7.
  if (!env.has_dev) {
    msg.str("\"").str(op_name(env.op)).str("\" needs a \"dev\"");
    fail(out, Status::BadRequest);
    return;
  }
  int index = find_device(context, env.dev);
  if (index < 0) {
    msg.str("no device \"").str(env.dev).str("\" on this node");
    fail(out, Status::UnknownDevice);
    return;
  }
  Device& device = context.devices[index];
  // §9 step 8.
  bool supported = env.op == Op::Set || env.op == Op::Get || (env.op == Op::Identify && device.supports_identify()) ||
                   (env.op == Op::Stop && device.supports_stop());
  if (!supported) {
    msg.str("a ").str(device.type_name()).str(" does not support \"").str(op_name(env.op)).str("\"");
    fail(out, Status::BadRequest);
    return;
  }
  Change changes[kMaxChanges];
  int count = 0;
  if (env.op == Op::Set) {
    Status status = check_set(device, env.params, changes, &count, msg);
    if (status != Status::Ok) {
      fail(out, status);
      return;
    }
  } else if (has_params(env.params)) {
    msg.str("\"").str(op_name(env.op)).str("\" takes no params");
    fail(out, Status::BadRequest);
    return;
  }

  // §9 step 12: execute.
  out->device = index;
  out->status = Status::Ok;
  out->follow_up = FollowUp::PublishState;
  switch (env.op) {
    case Op::Set:
      if (device.apply(changes, count, *context.ports, context.now_ms) == Applied::Accepted) {
        out->status = Status::Accepted;
      }
      break;
    case Op::Stop:
      device.stop(*context.ports, context.now_ms);
      break;
    case Op::Identify:
      // The state does not change, so there is nothing new to publish.
      device.identify(*context.ports, context.now_ms);
      out->follow_up = FollowUp::None;
      break;
    case Op::Get:
    case Op::Reboot:
    case Op::Ota:
      break;
  }
}

}  // namespace

const char* status_name(Status status) {
  switch (status) {
    case Status::Ok: return "ok";
    case Status::Accepted: return "accepted";
    case Status::Duplicate: return "duplicate";
    case Status::BadRequest: return "bad_request";
    case Status::UnknownDevice: return "unknown_device";
    case Status::UnknownParam: return "unknown_param";
    case Status::ReadOnly: return "read_only";
    case Status::OutOfRange: return "out_of_range";
    case Status::Busy: return "busy";
    case Status::Expired: return "expired";
    case Status::Error: return "error";
  }
  return "error";
}

void dispatch(const uint8_t* payload, size_t len, DispatchContext& context, Outcome* out) {
  memset(out, 0, sizeof *out);
  out->device = -1;
  out->status = Status::BadRequest;
  text::Writer msg(out->msg, sizeof out->msg);

  // §9 step 1.
  if (len > kMaxMessageBytes) {
    out->has_id = scan_id(payload, len, out->id);
    msg.str("command exceeds ").num(kMaxMessageBytes).str(" bytes");
    return;
  }
  // §9 step 2. cJSON reads up to a NUL, so a payload with one inside is not JSON.
  if (len + 1 > context.scratch_cap || memchr(payload, 0, len) != nullptr) {
    msg.str("command is not valid JSON");
    return;
  }
  memcpy(context.scratch, payload, len);
  context.scratch[len] = '\0';
  // require_null_terminated: trailing garbage after the object is not JSON either.
  cJSON* root = cJSON_ParseWithOpts(context.scratch, nullptr, true);
  if (root == nullptr) {
    msg.str("command is not valid JSON");
    return;
  }

  // §9 step 3.
  Envelope env;
  bool valid = parse_envelope(root, &env, msg);
  out->has_id = env.has_id;
  text::copy(out->id, sizeof out->id, env.id);
  if (!valid) {
    cJSON_Delete(root);
    return;
  }
  out->has_dev = env.has_dev;
  text::copy(out->dev, sizeof out->dev, env.dev);

  // §9 step 4, before the expiry: the retry of a command that already ran must not be reported as failed.
  if (env.has_id && context.dedupe->contains(env.id)) {
    fail(out, Status::Duplicate);
    if (env.has_dev) out->device = find_device(context, env.dev);
    cJSON_Delete(root);
    return;
  }
  // §9 step 5. A node whose clock is not synchronised ignores exp.
  int64_t now_s = 0;
  if (env.has_exp && context.clock->unix_seconds(&now_s) && now_s > env.exp) {
    msg.str("expired at ").num(env.exp).str(", received at ").num(now_s);
    fail(out, Status::Expired);
    cJSON_Delete(root);
    return;
  }

  if (env.op == Op::Reboot) {
    // §9 step 6.
    if (has_params(env.params)) {
      msg.str("\"reboot\" takes no params");
    } else if (context.ota_busy) {
      msg.str("a firmware update is in progress");
      fail(out, Status::Busy);
    } else {
      out->status = Status::Accepted;
      out->follow_up = FollowUp::Reboot;
    }
  } else if (env.op == Op::Ota) {
    // §14.1: the fields, then busy, then accepted.
    if (has_params(env.params)) {
      msg.str("\"ota\" takes no params");
    } else if (!env.has_id) {
      // Every ota/status message carries the command's id; without one the bridge could not follow it.
      msg.str("\"ota\" needs an id");
    } else if (parse_ota_request(root, &out->ota, msg)) {
      if (context.ota_busy) {
        msg.str("a firmware update is already in progress");
        fail(out, Status::Busy);
      } else {
        text::copy(out->ota.id, sizeof out->ota.id, env.id);
        out->status = Status::Accepted;
        out->follow_up = FollowUp::StartOta;
      }
    }
  } else {
    handle_device_op(env, context, out, msg);
  }
  cJSON_Delete(root);

  // Only executed commands are remembered (§11): a rejected id is checked again from the start next time.
  if ((out->status == Status::Ok || out->status == Status::Accepted) && env.has_id) {
    context.dedupe->remember(env.id);
  }
}

}  // namespace hearth
