#include "Target/CpuFamily.h"

#include "runtime/CpuFeatures.h"

#include <algorithm>
#include <stdexcept>

namespace granite::target {
namespace {

// Halide 14 has no separate avx512_bf16/vnni features: both come only with avx512_sapphirerapids,
// and its avx512 intrinsic module is linked only when every implied feature is spelled out.
constexpr const char *kX86Avx2 = "x86-64-linux-sse41-avx-f16c-fma-avx2";
constexpr const char *kX86Avx512 = "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake";
constexpr const char *kX86Avx512Bf16 =
    "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake-avx512_cannonlake-avx512_"
    "sapphirerapids";

using Features = std::vector<std::string>;

Features operator+(Features first, const Features &then) {
  first.insert(first.end(), then.begin(), then.end());
  return first;
}

std::vector<CpuFamily> makeFamilies() {
  // The family-defining features come first, so that a refusal names the one that tells families
  // apart. x86-64-v3: LLVM's haswell also emits BMI, LZCNT and MOVBE in plain code.
  const Features kX86V3 = {"avx2",  "avx",   "fma",    "f16c",   "bmi",    "bmi2",
                           "lzcnt", "movbe", "popcnt", "sse4.2", "sse4.1", "ssse3"};
  // x86-64-v4.
  const Features kX86V4 = Features{"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} + kX86V3;
  // The glue code targets znver4 and the kernels sapphirerapids less FP16 and AMX
  // (lib/Kernels/KernelCache.cpp): what both have. Cooper Lake has BF16 but not VBMI, so it is not one.
  const Features kX86Bf16 = Features{"avx512bf16",   "avx512vnni",      "avx512vbmi", "avx512vbmi2", "avx512ifma",
                                     "avx512bitalg", "avx512vpopcntdq", "gfni",       "vaes",        "vpclmulqdq"} +
                            kX86V4;
  // AMX (Sapphire Rapids and later): the tile registers and their INT8 and BF16 products, on top of the BF16
  // family's features. The kernels keep LLVM's sapphirerapids less AVX512-FP16 and AVX-VNNI, as that family's.
  const Features kX86Amx = Features{"amx-tile", "amx-bf16", "amx-int8"} + kX86Bf16;
  std::vector<CpuFamily> families;
  // Decode products are bandwidth bound. Float weights stream one row at a time, so each task
  // reads one contiguous run that the hardware prefetchers follow, with the row's accumulator
  // spread over several registers to hide the FMA latency. Block-quantized ones are compute
  // bound: 4 rows in flight amortize the decoding of each activation vector. Prefill tiles are
  // sized to the register file (16 regs on AVX2/NEON, 32 on AVX-512) and leave room for the
  // weight and activation vectors. With VNNI (x86-64-avx512-bf16) the block-quantized products
  // quantize the activations and use vpdpbusd, which makes their decode memory bound.
  families.push_back({"x86-64-avx2",
                      "AVX2 + FMA (x86-64-v3): Intel Haswell and later cores, AMD Zen 1-3",
                      {"x86-64-v3", "haswell", "broadwell", "skylake", "alderlake", "raptorlake", "znver1", "znver2",
                       "znver3", "zen2", "zen3"},
                      kX86V3,
                      kX86Avx2,
                      "x86_64-unknown-linux-gnu",
                      "haswell",
                      "+sse4.1,+avx,+f16c,+fma,+avx2",
                      {8, 32, 4, 3, 4}});
  families.back().defaults.prefillTaskBytes = 128 << 10; // Haswell to Skylake client: 256 KiB of L2 per core
  families.push_back({"x86-64-avx512",
                      "AVX-512 F/BW/CD/DQ/VL (x86-64-v4) without BF16: Intel Skylake-SP to Ice Lake",
                      {"x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake", "icelake-server", "icelake-client",
                       "tigerlake", "rocketlake"},
                      kX86V4,
                      kX86Avx512,
                      "x86_64-unknown-linux-gnu",
                      "skylake-avx512",
                      "+sse4.1,+avx,+f16c,+fma,+avx2,+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512cd",
                      {16, 32, 4, 4, 6}});
  families.push_back({"x86-64-avx512-bf16",
                      "AVX-512 with BF16, VNNI and VBMI: AMD Zen 4/5 (Intel Sapphire Rapids and later: x86-64-amx)",
                      {"znver4", "znver5", "zen4", "zen5"},
                      kX86Bf16,
                      kX86Avx512Bf16,
                      "x86_64-unknown-linux-gnu",
                      "znver4",
                      "+sse4.1,+avx,+f16c,+fma,+avx2,+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512cd,"
                      "+avx512vnni,+avx512bf16",
                      {16, 32, 4, 4, 6, true}});
  families.back().kernelLlcAttributes = "-avx512fp16,-avxvnni,-amx-tile,-amx-int8,-amx-bf16";
  families.back().defaults.bf16Dot = true;
  // The BF16 family's code plus AMX tile products for prefill (amxMatmul). Its glue code is the BF16 family's.
  families.push_back(families.back());
  families.back().name = "x86-64-amx";
  families.back().summary = "AVX-512 BF16/VNNI and AMX (tile, INT8, BF16): Intel Sapphire Rapids and later";
  families.back().aliases = {"sapphirerapids", "emeraldrapids", "graniterapids"};
  families.back().requiredFeatures = kX86Amx;
  families.back().kernelLlcAttributes = "-avx512fp16,-avxvnni";
  families.back().defaults.amxMatmul = true;
  families.push_back({"aarch64-neon",
                      "Armv8-A NEON: Cortex-A53/A57/A72/A73, AWS Graviton 1",
                      {"armv8-a", "cortex-a53", "cortex-a57", "cortex-a72", "cortex-a73"},
                      {"neon"},
                      "arm-64-linux",
                      "aarch64-unknown-linux-gnu",
                      "generic",
                      "+neon",
                      {4, 16, 4, 3, 4}});
  families.back().defaults.prefillTaskBytes = 128 << 10; // Cortex-A53 to A73: a small L2 shared by the cluster
  // A CPU with the dot product is Armv8.2 or later, so it also has the LSE atomics that code for
  // LLVM's neoverse-n1 may use.
  families.push_back({"aarch64-neon-dotprod",
                      "Armv8.2-A NEON with dot product and FP16: Neoverse N1/N2/V1/V2, Graviton 2-4, Apple M",
                      {"neoverse-n1", "neoverse-n2", "neoverse-v1", "neoverse-v2", "cortex-a76", "cortex-a78",
                       "apple-m1", "apple-m2", "graviton2", "graviton3", "graviton4"},
                      {"dotprod", "fp16", "neon", "lse"},
                      "arm-64-linux-arm_dot_prod-arm_fp16",
                      "aarch64-unknown-linux-gnu",
                      "neoverse-n1",
                      "+neon,+dotprod,+fullfp16",
                      {4, 16, 4, 3, 4}});
  return families;
}

/// "x86_64" or "aarch64".
std::string_view architecture(const CpuFamily &family) {
  std::string_view triple = family.llvmTriple;
  return triple.substr(0, triple.find('-'));
}

#if defined(__x86_64__)
constexpr std::string_view kHostArchitecture = "x86_64";
#elif defined(__aarch64__)
constexpr std::string_view kHostArchitecture = "aarch64";
#else
constexpr std::string_view kHostArchitecture = "";
#endif

} // namespace

const std::vector<CpuFamily> &allFamilies() {
  static const std::vector<CpuFamily> families = makeFamilies();
  return families;
}

std::string hostMissingFeature(const CpuFamily &family) { return runtime::missingCpuFeature(joinedFeatures(family)); }

bool hostCanRun(const CpuFamily &family) {
  return architecture(family) == kHostArchitecture && hostMissingFeature(family).empty();
}

std::string joinedFeatures(const CpuFamily &family) {
  std::string joined;
  for (const std::string &feature : family.requiredFeatures) joined += (joined.empty() ? "" : ",") + feature;
  return joined;
}

std::string otherTargets(const CpuFamily &family) {
  std::string targets;
  const auto &families = allFamilies();
  for (auto it = families.rbegin(); it != families.rend(); ++it)
    if (it->name != family.name && architecture(*it) == architecture(family))
      targets += (targets.empty() ? "" : ";") + it->name + ":" + joinedFeatures(*it);
  return targets;
}

std::string validTargetNames() {
  std::string names = "host";
  for (const CpuFamily &family : allFamilies()) {
    names += ", " + family.name;
    for (const std::string &alias : family.aliases) names += ", " + alias;
  }
  return names;
}

const CpuFamily &hostFamily() {
  const auto &families = allFamilies();
  // Families are listed from least to most capable within an architecture.
  for (auto it = families.rbegin(); it != families.rend(); ++it)
    if (hostCanRun(*it)) return *it;
  for (const CpuFamily &least : families)
    if (architecture(least) == kHostArchitecture)
      throw std::runtime_error("this CPU runs no granitec family: it lacks " + hostMissingFeature(least) + ", which " +
                               least.name + " needs");
  throw std::runtime_error("granitec has no family for this CPU's architecture");
}

const CpuFamily *findFamily(std::string_view nameOrAlias) {
  if (nameOrAlias == "host") return &hostFamily();
  for (const CpuFamily &family : allFamilies()) {
    if (family.name == nameOrAlias) return &family;
    if (std::find(family.aliases.begin(), family.aliases.end(), nameOrAlias) != family.aliases.end()) return &family;
  }
  return nullptr;
}

} // namespace granite::target
