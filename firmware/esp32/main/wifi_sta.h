// Wi-Fi station: the netif, the driver, and its events turned into NetworkUp/NetworkDown app events. The
// app task reconnects after each disconnection, with a growing pause.
#pragma once

#include <stdint.h>

#include "esp_netif.h"

// Creates the default station netif (and the SoftAP one when provisioning uses SoftAP) and initialises the
// driver. Call once after esp_netif_init() and esp_event_loop_create_default().
esp_netif_t* wifi_sta_init();
// Starts station mode with the stored credentials (when provisioning did not start Wi-Fi itself).
void wifi_sta_start();
// The app task reports each NetworkDown / NetworkUp event it handles: every disconnection (a failed attempt
// is one too) schedules one new attempt, 2 s later, then 4, 8… up to 60 s; an address resets the pause.
void wifi_sta_disconnected(uint64_t now_ms);
void wifi_sta_connected();
// Called every loop while provisioning is not running (the provisioning manager connects by itself).
void wifi_sta_poll(uint64_t now_ms);
