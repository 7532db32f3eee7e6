// Instantiates kernel generators in-process (libHalide is linked into the caller) for one set of
// typed instance parameters, schedule knobs and one CPU family, and caches the resulting object
// files by (generator, parameters, target) so that compiling the same shapes again costs a file
// lookup.
//
// Usage (granitec):
//   granite::kernels::KernelCache cache;                       // $GRANITEC_KERNEL_CACHE, else
//                                                              // $XDG_CACHE_HOME/granitec/kernels
//   auto k = cache.instantiate({"matvec", {{"weight_type", GGMLType::Q4_K}, {"in_features", 2560},
//                                          {"out_features", 8192}}, "zen5"});
//   // link k.object and cache.runtime("zen5"); call k.functionName (docs/kernels.md).
#pragma once

#include "Kernels/KernelParams.h"

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace granite::kernels {

struct KernelRequest {
  std::string generator;    ///< registered generator name, e.g. "matvec"
  KernelParams params;      ///< the instance: shapes, weight type, constants
  std::string family;       ///< CPU family name or alias, or "host"
  std::string functionName; ///< symbol to emit; empty: granite_<generator>_<key>
  Knobs knobs;              ///< schedule knobs that replace the family's defaults (a tuning file's)
};

struct CompiledKernel {
  std::string functionName;
  std::string key;              ///< hex digest of everything that determines the object
  std::filesystem::path object; ///< ELF object with the single kernel function (no runtime)
  std::filesystem::path header; ///< C header declaring it
  bool cacheHit = false;
};

class KernelCache {
public:
  /// $GRANITEC_KERNEL_CACHE if set, else $XDG_CACHE_HOME/granitec/kernels, else
  /// ~/.cache/granitec/kernels.
  static std::filesystem::path defaultDirectory();

  explicit KernelCache(std::filesystem::path directory = defaultDirectory());

  /// Returns the cached object for the request, compiling it first if needed. Schedule knobs the
  /// request leaves out take the family's defaults (lib/Target), other parameters the generator's
  /// own defaults; `weights.type` follows from `weight_type`. Throws std::invalid_argument for an
  /// unknown generator or family or a weight_type without kernels, std::runtime_error if
  /// compilation fails.
  CompiledKernel instantiate(const KernelRequest &request);

  /// The Halide runtime object every kernel of the family links against (cached as well).
  std::filesystem::path runtime(const std::string &family);

  /// Names of all registered kernel generators.
  static std::vector<std::string> generators();

  const std::filesystem::path &directory() const { return directory_; }

private:
  std::filesystem::path directory_;
  std::mutex mutex_; // Halide's compiler is not re-entrant
};

} // namespace granite::kernels
