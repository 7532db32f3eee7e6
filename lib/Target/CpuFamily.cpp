#include "Target/CpuFamily.h"

#include <algorithm>
#include <stdexcept>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace granite::target {
namespace {

// Halide 14 has no separate avx512_bf16/vnni features: both come only with avx512_sapphirerapids,
// and its avx512 intrinsic module is linked only when every implied feature is spelled out.
constexpr const char *kX86Avx2 = "x86-64-linux-sse41-avx-f16c-fma-avx2";
constexpr const char *kX86Avx512 = "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake";
constexpr const char *kX86Avx512Bf16 =
    "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake-avx512_cannonlake-avx512_"
    "sapphirerapids";

std::vector<CpuFamily> makeFamilies() {
  std::vector<CpuFamily> families;
  // Decode products are bandwidth bound. Float weights stream one row at a time, so each task
  // reads one contiguous run that the hardware prefetchers follow, with the row's accumulator
  // spread over several registers to hide the FMA latency. Block-quantized ones are compute
  // bound: 4 rows in flight amortize the decoding of each activation vector. Prefill tiles are
  // sized to the register file (16 regs on AVX2/NEON, 32 on AVX-512) and leave room for the
  // weight and activation vectors. With VNNI (x86-64-avx512-bf16) the block-quantized products
  // quantize the activations and use vpdpbusd, which makes their decode memory bound.
  families.push_back({"x86-64-avx2",
                      {"haswell", "zen2", "zen3"},
                      kX86Avx2,
                      "x86_64-unknown-linux-gnu",
                      "haswell",
                      "+sse4.1,+avx,+f16c,+fma,+avx2",
                      {8, 32, 4, 3, 4}});
  families.push_back({"x86-64-avx512",
                      {"skylake-avx512", "cascadelake", "icelake-server"},
                      kX86Avx512,
                      "x86_64-unknown-linux-gnu",
                      "skylake-avx512",
                      "+sse4.1,+avx,+f16c,+fma,+avx2,+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512cd",
                      {16, 32, 4, 4, 6}});
  families.push_back({"x86-64-avx512-bf16",
                      {"zen4", "zen5", "sapphirerapids", "znver4", "znver5"},
                      kX86Avx512Bf16,
                      "x86_64-unknown-linux-gnu",
                      "znver4",
                      "+sse4.1,+avx,+f16c,+fma,+avx2,+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512cd,"
                      "+avx512vnni,+avx512bf16",
                      {16, 32, 4, 4, 6, true}});
  families.back().defaults.bf16Dot = true;
  families.push_back({"aarch64-neon",
                      {"cortex-a72", "neoverse-n1-nodot"},
                      "arm-64-linux",
                      "aarch64-unknown-linux-gnu",
                      "generic",
                      "+neon",
                      {4, 16, 4, 3, 4}});
  families.push_back({"aarch64-neon-dotprod",
                      {"neoverse-n1", "neoverse-v1", "apple-m1", "graviton2", "graviton3"},
                      "arm-64-linux-arm_dot_prod-arm_fp16",
                      "aarch64-unknown-linux-gnu",
                      "neoverse-n1",
                      "+neon,+dotprod,+fullfp16",
                      {4, 16, 4, 3, 4}});
  return families;
}

#if defined(__x86_64__)
bool x86Supports(std::string_view family) {
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              __builtin_cpu_supports("f16c");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  bool bf16 = avx512 && __builtin_cpu_supports("avx512bf16") &&
              __builtin_cpu_supports("avx512vnni");
  if (family == "x86-64-avx2")
    return avx2;
  if (family == "x86-64-avx512")
    return avx512;
  if (family == "x86-64-avx512-bf16")
    return bf16;
  return false;
}
#endif

} // namespace

const std::vector<CpuFamily> &allFamilies() {
  static const std::vector<CpuFamily> families = makeFamilies();
  return families;
}

bool hostCanRun(const CpuFamily &family) {
#if defined(__x86_64__)
  return x86Supports(family.name);
#elif defined(__aarch64__)
  if (family.name == "aarch64-neon")
    return true;
  if (family.name == "aarch64-neon-dotprod")
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  return false;
#else
  (void)family;
  return false;
#endif
}

const CpuFamily &hostFamily() {
  const auto &families = allFamilies();
  // Families are listed from least to most capable within an architecture.
  for (auto it = families.rbegin(); it != families.rend(); ++it)
    if (hostCanRun(*it))
      return *it;
  throw std::runtime_error("granitec: the host CPU matches no supported family");
}

const CpuFamily *findFamily(std::string_view nameOrAlias) {
  if (nameOrAlias == "host")
    return &hostFamily();
  for (const CpuFamily &family : allFamilies()) {
    if (family.name == nameOrAlias)
      return &family;
    if (std::find(family.aliases.begin(), family.aliases.end(), nameOrAlias) !=
        family.aliases.end())
      return &family;
  }
  return nullptr;
}

} // namespace granite::target
