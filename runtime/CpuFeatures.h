// The CPU features a compiled model needs, checked before any of its code runs (docs/executable.md): cpuid and
// XGETBV on x86-64 (the OS must save the AVX, AVX-512 and AMX registers too), the hwcaps on aarch64. Names are LLVM's
// ("avx2", "avx512bf16", "dotprod"); granitec's families (lib/Target/CpuFamily.h) list theirs in these names.
// Compiled for the architecture's baseline, like the rest of the runtime.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

/// The first of `features` (comma separated) this CPU lacks, or "" when it has them all. A name this runtime does
/// not know counts as missing: it cannot vouch for it.
std::string missingCpuFeature(std::string_view features);

/// True when `features` (comma separated) names `feature`.
bool listsCpuFeature(std::string_view features, std::string_view feature);

/// The features of this architecture that missingCpuFeature knows, with whether this CPU has each.
std::vector<std::pair<std::string, bool>> cpuFeatures();

/// The CPU's model: the cpuid brand string on x86-64, /proc/cpuinfo's implementer and part on aarch64; "" if unknown.
std::string cpuModel();

/// Why code for `target` cannot run here, as one line without the program name, or "" when it can:
/// "this CPU lacks avx512bf16, which x86-64-avx512-bf16 needs; compile with --target x86-64-avx512 (or --target host
/// on this machine)". `otherTargets` is "name:feature,...;..." most capable first (GraniteModelInfo::other_targets);
/// the first this CPU runs is the one named.
std::string cpuRefusal(std::string_view target, std::string_view requiredFeatures, std::string_view otherTargets);

} // namespace granite::runtime
