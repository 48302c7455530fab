#pragma once
// Tells systemd (Type=notify units in deploy/systemd/) that a service is ready or stopping.
// Does nothing when not started by systemd.

namespace fleetban::common {

void notify_ready();
void notify_stopping();

}  // namespace fleetban::common
