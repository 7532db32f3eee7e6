#include "runtime/AmxPermission.h"

#include "runtime/CpuFeatures.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace granite::runtime {
namespace {

std::atomic<bool> refused{false};

/// "" when the kernel grants the tile data state, else why not.
std::string askTheKernel() {
#if defined(__x86_64__) && defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023; // ARCH_REQ_XCOMP_PERM (asm/prctl.h, Linux 5.16)
  constexpr long kXfeatureXtiledata = 18;    // XFEATURE_XTILEDATA
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0) return "";
  return std::string("arch_prctl: ") + std::strerror(errno);
#else
  return "AMX needs x86-64 Linux";
#endif
}

} // namespace

bool usesAmxTiles(std::string_view requiredFeatures) { return listsCpuFeature(requiredFeatures, "amx-tile"); }

std::string requestAmxTileState(std::string_view requiredFeatures) {
  static std::once_flag once;
  static std::string answer;
  std::call_once(once, [&] {
    const char *simulate = std::getenv("GRANITE_AMX_PERMISSION");
    std::string why;
    if (simulate && std::string_view(simulate) == "refuse")
      why = "arch_prctl: refused by GRANITE_AMX_PERMISSION=refuse";
    else if (usesAmxTiles(requiredFeatures))
      why = askTheKernel();
    if (why.empty()) return;
    answer = "the kernel refused AMX tile state (" + why + "); prefill runs one token at a time";
    refused = true;
  });
  return answer;
}

bool amxTilesRefused() { return refused; }

} // namespace granite::runtime
