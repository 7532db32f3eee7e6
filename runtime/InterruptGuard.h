// While a reply is being generated, Ctrl-C (SIGINT) only raises a flag that ends the reply; outside replies the
// default action (terminating the program) applies again, so Ctrl-C at the chat prompt still quits.
#pragma once

#include <atomic>
#include <csignal>

namespace granite::runtime {

class InterruptGuard {
public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard &) = delete;
  InterruptGuard &operator=(const InterruptGuard &) = delete;

  /// Set by SIGINT while this guard lives.
  const std::atomic<bool> &flag() const;

private:
  struct sigaction previous_{};
};

} // namespace granite::runtime
