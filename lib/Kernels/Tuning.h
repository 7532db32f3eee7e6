// Tuning files: schedule knobs `granitec tune` measured as best on one machine, per kernel instance, for
// `granitec compile --tuning FILE` (or picked up from the kernel cache for the host). JSON (docs/codegen.md,
// "Tuning"):
//   {"format": "granitec-tuning-1",
//    "entries": [{"family": "x86-64-avx512-bf16", "cpu": "AMD EPYC 9B45", "kernel": "matvec in_features=...",
//                 "knobs": {"tile_rows": "2"}, "before_us": 12.5, "after_us": 10.1}]}
// The knobs are generator parameters; the candidates come from the family's ScheduleDefaults (lib/Target).
#pragma once

#include "Kernels/KernelParams.h"
#include "Target/CpuFamily.h"

#include <filesystem>
#include <string>
#include <vector>

namespace granite::kernels {

struct TuningEntry {
  std::string family, cpu, kernel;
  Knobs knobs;
  double beforeUs = 0, afterUs = 0;
};

struct TuningFile {
  std::vector<TuningEntry> entries;

  /// Throws std::runtime_error (naming the file) when it cannot be read or is not a tuning file.
  static TuningFile load(const std::filesystem::path &path);
  /// Writes through a temporary name and renames. Throws std::runtime_error on failure.
  void save(const std::filesystem::path &path) const;
  /// Replaces the entry of the same family, CPU and kernel, or adds it.
  void put(const TuningEntry &entry);
  /// The knobs for `kernel` compiled for `family`: the entry tuned on `cpu` if any, else one tuned on another CPU
  /// of the family; nullptr if none.
  const TuningEntry *find(const std::string &family, const std::string &cpu, const std::string &kernel) const;
};

/// "generator name=value ...": a kernel instance as the lowering asks for it (shapes and types, no knobs), with
/// the values as generator parameter strings.
std::string instanceKey(const std::string &generator, const KernelParams &params);

/// Where `granitec tune` keeps the host's tuning file when no -o is given and `granitec compile` looks for it:
/// <kernel cache>/tuning/<family>--<cpu model, sanitized>.json.
std::filesystem::path hostTuningPath(const std::filesystem::path &cacheDirectory, const target::CpuFamily &family,
                                     const std::string &cpu);

/// True for the generators `granitec tune` searches: the linear products, which take nearly all the time.
bool isTunable(const std::string &generator);

/// The knobs `generator` with `params` honours on `family`, each with the family's candidate values.
std::vector<std::pair<std::string, std::vector<std::string>>>
tunableKnobs(const target::CpuFamily &family, const std::string &generator, const KernelParams &params);

} // namespace granite::kernels
