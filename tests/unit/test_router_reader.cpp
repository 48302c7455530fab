// read_router: a ROUTER's messages as (routing id, payload), a message of extra frames drained and
// reported without confusing the next one. Real sockets over inproc.
#include "server/router_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/poll.hpp"

namespace {

using namespace std::chrono_literals;

TEST(RouterReader, TakesEachMessageAndDrainsOneOfTooManyFrames) {
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.bind("inproc://router-reader");
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.connect("inproc://router-reader");
  dealer.send(zmq::buffer(std::string("first")), zmq::send_flags::none);
  dealer.send(zmq::buffer(std::string("a")), zmq::send_flags::sndmore);
  dealer.send(zmq::buffer(std::string("b")), zmq::send_flags::sndmore);
  dealer.send(zmq::buffer(std::string("c")), zmq::send_flags::none);
  dealer.send(zmq::buffer(std::string("last")), zmq::send_flags::none);

  std::vector<std::string> taken;
  int too_many = 0;
  std::size_t read = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       read < 3 && std::chrono::steady_clock::now() < deadline;) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    fleetban::common::poll_for(&item, 1, 100ms);
    read += fleetban::server::read_router(
        router, 10,
        [&](zmq::message_t&& identity, zmq::message_t&& payload) {
          EXPECT_FALSE(identity.to_string().empty());
          taken.push_back(payload.to_string());
        },
        [&] { ++too_many; });
  }
  EXPECT_EQ(taken, (std::vector<std::string>{"first", "last"}));
  EXPECT_EQ(too_many, 1);
}

TEST(RouterReader, ReadsNoMoreThanAskedAtATime) {
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.bind("inproc://router-reader-max");
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.connect("inproc://router-reader-max");
  for (int i = 0; i < 5; ++i) dealer.send(zmq::buffer(std::to_string(i)), zmq::send_flags::none);
  zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
  fleetban::common::poll_for(&item, 1, 5000ms);
  std::size_t taken = 0;
  auto take = [&](zmq::message_t&&, zmq::message_t&&) { ++taken; };
  EXPECT_EQ(fleetban::server::read_router(router, 2, take, [] {}), 2u);
  EXPECT_EQ(taken, 2u);
}

}  // namespace
