#include "runtime/CpuFeatures.h"

#include <cstdint>
#include <fstream>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace granite::runtime {
namespace {

/// The pieces of `list` between `separator`s, empty ones left out.
std::vector<std::string_view> split(std::string_view list, char separator) {
  std::vector<std::string_view> pieces;
  while (!list.empty()) {
    size_t end = list.find(separator);
    std::string_view piece = list.substr(0, end);
    if (!piece.empty()) pieces.push_back(piece);
    list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
  }
  return pieces;
}

#if defined(__x86_64__)
struct Cpuid {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

/// Zeros for a leaf beyond the CPU's maximum.
Cpuid cpuid(unsigned leaf, unsigned subleaf) {
  Cpuid r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return {};
  return r;
}

bool bit(unsigned reg, int index) { return (reg >> index & 1) != 0; }
#endif

} // namespace

std::vector<std::pair<std::string, bool>> cpuFeatures() {
#if defined(__x86_64__)
  const Cpuid l1 = cpuid(1, 0), l7 = cpuid(7, 0), e1 = cpuid(0x80000001, 0);
  const Cpuid l7s1 = l7.eax >= 1 ? cpuid(7, 1) : Cpuid();
  // The CPU may have AVX or AVX-512 while the OS does not save their registers (XCR0): then they fault like missing
  // instructions. XGETBV itself exists only where the OS enabled XSAVE (OSXSAVE).
  uint64_t xcr0 = 0;
  if (bit(l1.ecx, 27)) {
    unsigned low = 0, high = 0;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    xcr0 = (static_cast<uint64_t>(high) << 32) | low;
  }
  const bool avx = (xcr0 & 0x6) == 0x6;             // XMM and YMM state
  const bool avx512 = avx && (xcr0 & 0xe0) == 0xe0; // opmask, ZMM0-15 upper halves, ZMM16-31
  // XTILECFG and XTILEDATA. Linux enables both in XCR0 (5.16 and later) but hands the tile data state to a process
  // only when it asks (arch_prctl, runtime/AmxPermission.h).
  const bool amx = (xcr0 & 0x60000) == 0x60000;
  return {{"ssse3", bit(l1.ecx, 9)},
          {"sse4.1", bit(l1.ecx, 19)},
          {"sse4.2", bit(l1.ecx, 20)},
          {"popcnt", bit(l1.ecx, 23)},
          {"movbe", bit(l1.ecx, 22)},
          {"lzcnt", bit(e1.ecx, 5)},
          {"bmi", bit(l7.ebx, 3)},
          {"bmi2", bit(l7.ebx, 8)},
          {"gfni", bit(l7.ecx, 8)},
          {"avx", avx && bit(l1.ecx, 28)},
          {"fma", avx && bit(l1.ecx, 12)},
          {"f16c", avx && bit(l1.ecx, 29)},
          {"avx2", avx && bit(l7.ebx, 5)},
          {"vaes", avx && bit(l7.ecx, 9)},
          {"vpclmulqdq", avx && bit(l7.ecx, 10)},
          {"avx512f", avx512 && bit(l7.ebx, 16)},
          {"avx512dq", avx512 && bit(l7.ebx, 17)},
          {"avx512ifma", avx512 && bit(l7.ebx, 21)},
          {"avx512cd", avx512 && bit(l7.ebx, 28)},
          {"avx512bw", avx512 && bit(l7.ebx, 30)},
          {"avx512vl", avx512 && bit(l7.ebx, 31)},
          {"avx512vbmi", avx512 && bit(l7.ecx, 1)},
          {"avx512vbmi2", avx512 && bit(l7.ecx, 6)},
          {"avx512vnni", avx512 && bit(l7.ecx, 11)},
          {"avx512bitalg", avx512 && bit(l7.ecx, 12)},
          {"avx512vpopcntdq", avx512 && bit(l7.ecx, 14)},
          {"avx512bf16", avx512 && bit(l7s1.eax, 5)},
          {"amx-tile", amx && bit(l7.edx, 24)},
          {"amx-int8", amx && bit(l7.edx, 25)},
          {"amx-bf16", amx && bit(l7.edx, 22)}};
#elif defined(__aarch64__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  return {{"neon", (hwcap & HWCAP_ASIMD) != 0},
          {"fp16", (hwcap & HWCAP_FPHP) != 0 && (hwcap & HWCAP_ASIMDHP) != 0},
          {"dotprod", (hwcap & HWCAP_ASIMDDP) != 0},
          {"lse", (hwcap & HWCAP_ATOMICS) != 0}};
#else
  return {};
#endif
}

bool listsCpuFeature(std::string_view features, std::string_view feature) {
  for (std::string_view listed : split(features, ','))
    if (listed == feature) return true;
  return false;
}

std::string missingCpuFeature(std::string_view features) {
  const std::vector<std::pair<std::string, bool>> known = cpuFeatures();
  for (std::string_view feature : split(features, ',')) {
    bool present = false;
    for (const auto &[name, has] : known)
      if (name == feature) present = has;
    if (!present) return std::string(feature);
  }
  return "";
}

std::string cpuModel() {
#if defined(__x86_64__)
  if (cpuid(0x80000000, 0).eax < 0x80000004) return "";
  std::string brand;
  for (unsigned leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    Cpuid r = cpuid(leaf, 0);
    for (unsigned reg : {r.eax, r.ebx, r.ecx, r.edx})
      for (int byte = 0; byte < 4; ++byte) brand += static_cast<char>(reg >> (8 * byte) & 0xff);
  }
  brand.resize(brand.find('\0') == std::string::npos ? brand.size() : brand.find('\0'));
  size_t first = brand.find_first_not_of(' '), last = brand.find_last_not_of(' ');
  return first == std::string::npos ? "" : brand.substr(first, last - first + 1);
#else
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string implementer, part;
  for (std::string line; std::getline(cpuinfo, line) && (implementer.empty() || part.empty());) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(line.find_first_not_of(" \t", colon + 1) == std::string::npos
                                        ? line.size()
                                        : line.find_first_not_of(" \t", colon + 1));
    if (line.rfind("CPU implementer", 0) == 0) implementer = value;
    if (line.rfind("CPU part", 0) == 0) part = value;
  }
  return implementer.empty() ? "" : "CPU implementer " + implementer + ", part " + part;
#endif
}

std::string cpuRefusal(std::string_view target, std::string_view requiredFeatures, std::string_view otherTargets) {
  const std::string missing = missingCpuFeature(requiredFeatures);
  if (missing.empty()) return "";
  std::string line = "this CPU lacks " + missing + ", which " + std::string(target) + " needs";
  for (std::string_view other : split(otherTargets, ';')) {
    size_t colon = other.find(':');
    if (colon != std::string_view::npos && missingCpuFeature(other.substr(colon + 1)).empty())
      return line + "; compile with --target " + std::string(other.substr(0, colon)) +
             " (or --target host on this machine)";
  }
  return line + ", and no granitec target runs on it";
}

} // namespace granite::runtime
