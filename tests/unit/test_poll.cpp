#include "common/poll.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <future>
#include <thread>

namespace {

using fleetban::common::poll_for;

std::atomic<int> g_signals{0};
void count_signal(int) { ++g_signals; }

// A handler without SA_RESTART: the blocked zmq_poll returns EINTR, as it would on the ZAP thread
// when SIGHUP lands there.
struct SignalHandler {
  struct sigaction old {};
  SignalHandler() {
    struct sigaction action {};
    action.sa_handler = count_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(SIGUSR1, &action, &old);
  }
  ~SignalHandler() { sigaction(SIGUSR1, &old, nullptr); }
};

TEST(PollFor, SignalDoesNotEndTheWait) {
  SignalHandler handler;
  zmq::context_t context;
  zmq::socket_t receiver(context, zmq::socket_type::pair);
  zmq::socket_t sender(context, zmq::socket_type::pair);
  receiver.bind("inproc://poll-for-test");
  sender.connect("inproc://poll-for-test");

  std::promise<pthread_t> waiter_id;
  auto waiter = std::async(std::launch::async, [&] {
    waiter_id.set_value(pthread_self());
    zmq::pollitem_t item{receiver.handle(), 0, ZMQ_POLLIN, 0};
    int ready = poll_for(&item, 1, std::chrono::seconds(60));
    return ready == 1 && (item.revents & ZMQ_POLLIN) != 0;
  });
  pthread_t thread = waiter_id.get_future().get();

  // Signals keep landing on the waiting thread; the poll must still be waiting after them.
  g_signals = 0;
  for (int i = 0; i < 20; ++i) {
    pthread_kill(thread, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(g_signals.load(), 1);
  EXPECT_EQ(waiter.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout) << "the poll ended on a signal";

  sender.send(zmq::str_buffer("wake"), zmq::send_flags::none);
  EXPECT_TRUE(waiter.get());
}

TEST(PollFor, InterruptedWaitStillTimesOut) {
  SignalHandler handler;
  zmq::context_t context;
  zmq::socket_t receiver(context, zmq::socket_type::pair);
  receiver.bind("inproc://poll-for-timeout");
  std::promise<pthread_t> waiter_id;
  auto waiter = std::async(std::launch::async, [&] {
    waiter_id.set_value(pthread_self());
    zmq::pollitem_t item{receiver.handle(), 0, ZMQ_POLLIN, 0};
    return poll_for(&item, 1, std::chrono::milliseconds(300));
  });
  pthread_t thread = waiter_id.get_future().get();
  pthread_kill(thread, SIGUSR1);
  EXPECT_EQ(waiter.get(), 0);
}

}  // namespace
