#pragma once
// How a serving program reads its ingest ROUTER: each message is the connection's routing id and
// one payload frame. A message of more frames is drained and reported (no fleetban client sends
// one), so a peer cannot make the reader mistake its next frame for a routing id.

#include <cstddef>
#include <functional>
#include <zmq.hpp>

namespace fleetban::server {

// Takes every message waiting (up to `max`) without blocking: `take(identity, payload)` for each
// well-formed one, `too_many_frames()` for each with more than one payload frame. Returns how many
// messages were read.
std::size_t read_router(zmq::socket_t& router, std::size_t max,
                        const std::function<void(zmq::message_t&& identity, zmq::message_t&& payload)>& take,
                        const std::function<void()>& too_many_frames);

}  // namespace fleetban::server
