#pragma once
// zmq::poll that a signal does not cut short: every wait on ZeroMQ sockets goes through it.

#include <chrono>
#include <cstddef>
#include <zmq.hpp>

namespace fleetban::common {

// Like zmq::poll, but an interrupted wait (EINTR, which cppzmq throws as zmq::error_t) goes on
// with the time left, so a signal landing on this thread (SIGHUP, SIGCHLD, ...) ends nothing.
// Callers that must notice a signal quickly check their flags between short waits.
// Returns the number of items ready (0 on timeout).
int poll_for(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout);

}  // namespace fleetban::common
