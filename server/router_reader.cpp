#include "server/router_reader.hpp"

namespace fleetban::server {

std::size_t read_router(zmq::socket_t& router, std::size_t max,
                        const std::function<void(zmq::message_t&& identity, zmq::message_t&& payload)>& take,
                        const std::function<void()>& too_many_frames) {
  std::size_t n = 0;
  for (; n < max; ++n) {
    zmq::message_t identity;
    if (!router.recv(identity, zmq::recv_flags::dontwait)) break;
    if (!identity.more()) continue;
    zmq::message_t payload;
    if (!router.recv(payload, zmq::recv_flags::dontwait)) continue;
    if (payload.more()) {
      zmq::message_t rest;
      while (router.get(zmq::sockopt::rcvmore) != 0) {
        if (!router.recv(rest, zmq::recv_flags::dontwait)) break;
      }
      too_many_frames();
      continue;
    }
    take(std::move(identity), std::move(payload));
  }
  return n;
}

}  // namespace fleetban::server
