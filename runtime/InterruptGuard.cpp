#include "runtime/InterruptGuard.h"

namespace granite::runtime {
namespace {

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void onInterrupt(int) { interrupted.store(true); }

} // namespace

InterruptGuard::InterruptGuard() {
  interrupted.store(false);
  struct sigaction action{};
  action.sa_handler = onInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_);
}

InterruptGuard::~InterruptGuard() { sigaction(SIGINT, &previous_, nullptr); }

const std::atomic<bool> &InterruptGuard::flag() const { return interrupted; }

} // namespace granite::runtime
