// Wi-Fi and claim-data provisioning with espressif/network_provisioning: BLE (or SoftAP, Kconfig), protocomm
// security 2 (SRP6a) with a random per-board password kept in NVS and printed on the serial console.
// A custom endpoint "hearth-claim" (and the same handler as "custom-data", the endpoint esp_prov's
// --custom_data option writes to) takes {"bridge","ca_pem","claim_token"} and stores them in NVS; the app
// trades the token for MQTT credentials once Wi-Fi is up (hearth::claim_node).
#pragma once

#include "nvs_store.h"

namespace provisioning {

// NVS keys of the claim data (namespace "hearth").
constexpr const char* kKeyBridge = "prov_bridge";
constexpr const char* kKeyCa = "prov_ca";
constexpr const char* kKeyToken = "prov_token";

// Call before Wi-Fi or Bluetooth is initialised: loads the board's provisioning password, or makes one
// while the hardware entropy source can still be switched on (see provisioning.cpp). False if NVS failed.
bool init(NvsStore* kv, const char* node_id);
// Call after esp_wifi_init(). Starts the provisioning service when Wi-Fi is not provisioned yet or `force`
// is set (no MQTT credentials and no claim token). True when it runs: the manager then starts Wi-Fi itself.
// False: the caller starts Wi-Fi in station mode.
bool start(bool force);
// True from start() until the service has stopped (after Wi-Fi connected with the received credentials).
bool active();

}  // namespace provisioning
