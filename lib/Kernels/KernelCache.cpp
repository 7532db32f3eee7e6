#include "Kernels/KernelCache.h"

#include "Kernels/WeightFormat.h"
#include "Support/AtomicFile.h"
#include "Support/Hash.h"
#include "Support/Subprocess.h"
#include "Target/CpuFamily.h"

#include "Halide.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace granite::kernels {
namespace {

namespace fs = std::filesystem;

// Part of every key: the fingerprint of the generator sources (lib/Kernels/CMakeLists.txt), so
// objects from an older kernel library are never reused.
constexpr const char *kCacheFormat = "granitec-kernels-" GRANITE_KERNEL_FINGERPRINT;

// Halide 14 compiles avx512_sapphirerapids with LLVM -mcpu=sapphirerapids, which also enables
// AVX512-FP16 (e.g. vmovw) that Zen 4/5 lack. For targets with that feature the module is emitted
// as bitcode and llc re-targets it with the family's kernelLlcAttributes (lib/Target/CpuFamily.cpp):
// without the SPR-only extensions, or (x86-64-amx) keeping AMX.

std::string hex(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

const target::CpuFamily &familyOrThrow(const std::string &name) {
  const target::CpuFamily *family = target::findFamily(name);
  if (!family) throw std::invalid_argument("unknown CPU family: " + name);
  return *family;
}

bool needsSprRetarget(const Halide::Target &target) {
  return target.arch == Halide::Target::X86 && target.has_feature(Halide::Target::AVX512_SapphireRapids);
}

std::string llcPath() {
  if (const char *env = std::getenv("GRANITEC_LLC14")) return env;
  return GRANITE_LLC14_PATH;
}

void runOrThrow(const std::vector<std::string> &argv) {
  int status = 0;
  std::string error;
  if (!support::runProcess(argv, status, nullptr, error)) throw std::runtime_error(error);
  if (status != 0) throw std::runtime_error(argv[0] + " failed on " + argv.back());
}

/// matmul rows per parallel task: as many as keep their weights within the family's prefillTaskBytes, a multiple
/// of the register tile's rows, at most 128, and few enough that there are 8 tasks.
int64_t prefillRowsPerTask(const target::ScheduleDefaults &d, const GGMLTypeTraits &format, int64_t inFeatures,
                           int64_t outFeatures, int64_t tileRows) {
  const int64_t rowBytes = inFeatures / format.blockElements * format.blockBytes;
  const int64_t rows = std::min<int64_t>({d.prefillTaskBytes / rowBytes, 128, outFeatures / 8});
  return std::max<int64_t>(tileRows, rows / tileRows * tileRows);
}

/// The generator that implements `generator` on `family`: the AMX tile product for a prefill product whose weight
/// type has an AMX form (BF16 with bf16_dot, even K) where the family's amxMatmul is set, else `generator` itself.
/// `params` are the request's, before the family's defaults (a knob may turn bf16_dot off).
std::string implementingGenerator(const std::string &generator, const target::CpuFamily &family,
                                  const std::optional<GGMLTypeTraits> &format,
                                  const std::map<std::string, std::string> &params) {
  if (generator != "matmul" || !family.defaults.amxMatmul || !format) return generator;
  auto bf16Dot = params.find("bf16_dot");
  const bool bf16 = bf16Dot == params.end() ? family.defaults.bf16Dot : bf16Dot->second == "true";
  auto inFeatures = params.find("in_features");
  const bool evenK = inFeatures != params.end() && std::stoll(inFeatures->second) % 2 == 0;
  return format->type == GGMLType::BF16 && bf16 && evenK ? "amx_matmul" : generator;
}

/// Schedule knobs each generator takes, filled from the family where `params` (the request's
/// parameters and knobs, as strings) leaves them out. `format` is the request's weight_type, if any.
void addFamilyDefaults(const std::string &generator, const target::CpuFamily &family,
                       const std::optional<GGMLTypeTraits> &format, std::map<std::string, std::string> &params) {
  const target::ScheduleDefaults &d = family.defaults;
  auto fill = [&](const char *name, int value) { params.emplace(name, std::to_string(value)); };
  const bool decode = generator == "matvec" || generator == "expert_matvec";
  const bool amx = generator == "amx_matmul", prefill = generator == "matmul" || amx;
  // matvec, expert_matvec and matmul take the same choice, so prefill and decode agree.
  if (format && format->quantized() && (decode || prefill))
    params.emplace("quantized_dot", d.quantizedDot ? "true" : "false");
  if (format && format->type == GGMLType::BF16 && (decode || prefill))
    params.emplace("bf16_dot", d.bf16Dot ? "true" : "false");
  auto dot = params.find("quantized_dot");
  const bool quantized = dot != params.end() && dot->second == "true";
  // quantized_dot decode (measured on Zen 5, docs/kernels.md): one row at a time, so that the
  // hardware prefetchers follow one stream, and a software prefetch 4.3-6.6 KB ahead: 32 blocks of
  // the K-quants, 128 of Q8_0 (Q8_0 +25% against none; 64 blocks or fewer measured no gain).
  if (quantized && decode && format) {
    fill("tile_rows", 1);
    fill("prefetch_blocks", format->type == GGMLType::Q8_0 ? 128 : 32);
  }
  if (decode) {
    bool streamed = format && !format->quantized();
    fill("vector_width", streamed ? d.streamLanes : d.vectorWidth);
    fill("tile_rows", streamed ? 1 : d.decodeRows);
  }
  if (generator != "moe_router") fill("vector_width", d.vectorWidth);
  if (prefill) {
    const int rowsPerTileRow = format ? matmulRowsPerTileRow(format->type, quantized && !amx) : 1;
    const bool q8_0 = format && format->type == GGMLType::Q8_0;
    fill("tile_rows", amx                  ? d.amxRows
                      : rowsPerTileRow > 1 ? (q8_0 ? d.q8_0RowGroups : d.quantizedRowGroups)
                                           : d.prefillRows);
    fill("tile_tokens", amx ? d.amxTokens : !quantized ? d.prefillTokens : q8_0 ? d.q8_0Tokens : d.quantizedDotTokens);
    const int64_t tileRows = std::stoll(params.at("tile_rows")) * rowsPerTileRow;
    if (rowsPerTileRow > 1 && !q8_0) // the K-quants' integer matmul
      fill("rows_per_task", static_cast<int>(tileRows * d.kQuantTaskTiles));
    else if (format)
      fill("rows_per_task", static_cast<int>(prefillRowsPerTask(d, *format, std::stoll(params.at("in_features")),
                                                                std::stoll(params.at("out_features")), tileRows)));
  }
  if (format) {
    const Halide::Type storage = weightStorageType(format->type);
    params.emplace("weights.type",
                   (storage.is_float() ? "float" : "uint") + std::to_string(storage.bits())); // Halide's type name
  }
}

} // namespace

fs::path KernelCache::defaultDirectory() {
  if (const char *dir = std::getenv("GRANITEC_KERNEL_CACHE"); dir && *dir) return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "granitec" / "kernels";
  const char *home = std::getenv("HOME");
  return fs::path(home ? home : "/tmp") / ".cache" / "granitec" / "kernels";
}

KernelCache::KernelCache(fs::path directory) : directory_(std::move(directory)) { fs::create_directories(directory_); }

std::vector<std::string> KernelCache::generators() { return Halide::Internal::GeneratorRegistry::enumerate(); }

CompiledKernel KernelCache::instantiate(const KernelRequest &request) {
  const auto names = generators();
  if (std::find(names.begin(), names.end(), request.generator) == names.end())
    throw std::invalid_argument("unknown kernel generator: " + request.generator);
  const target::CpuFamily &family = familyOrThrow(request.family);
  // The weight format's row, for the generators that take one (only formats with kernels).
  std::optional<GGMLTypeTraits> format;
  if (request.params.count("weight_type")) {
    format = traitsOf(paramAs<GGMLType>(request.params, "weight_type"));
    if (!format->kernels) throw std::invalid_argument("no kernels for weight_type " + std::string(format->mnemonic));
  }
  std::map<std::string, std::string> params = generatorParameters(request.params);
  for (const auto &[name, value] : request.knobs) params[name] = value;
  const std::string generatorName = implementingGenerator(request.generator, family, format, params);
  addFamilyDefaults(generatorName, family, format, params);
  const std::string targetString = family.halideTarget + "-no_runtime";
  Halide::Target target(targetString);
  if (needsSprRetarget(target) && family.kernelLlcAttributes.empty())
    throw std::logic_error("family " + family.name + " needs llc attributes for Halide's sapphirerapids target");

  std::string identity =
      std::string(kCacheFormat) + "\n" + generatorName + "\n" + targetString + "\n" + request.functionName + "\n";
  if (needsSprRetarget(target)) identity += "llc -mattr=" + family.kernelLlcAttributes + "\n";
  for (const auto &[name, value] : params) identity += name + "=" + value + "\n";
  CompiledKernel result;
  result.key = hex(support::fnv1a(identity));
  result.functionName =
      request.functionName.empty() ? "granite_" + request.generator + "_" + result.key : request.functionName;
  result.object = directory_ / (result.key + ".o");
  result.header = directory_ / (result.key + ".h");
  if (fs::exists(result.object) && fs::exists(result.header)) {
    result.cacheHit = true;
    return result;
  }

  std::lock_guard<std::mutex> lock(mutex_);
  Halide::GeneratorContext context(target);
  auto generator = Halide::Internal::GeneratorRegistry::create(generatorName, context);
  Halide::Internal::GeneratorParamsMap values;
  for (const auto &[name, value] : params) values[name] = value;
  // Written under temporary names and renamed, so a concurrent granitec never sees half a file. The bitcode is an
  // intermediate: never committed, it is removed when it goes out of scope.
  support::AtomicFile object(result.object.string()), header(result.header.string());
  support::AtomicFile bitcode((directory_ / (result.key + ".bc")).string());
  try {
    generator->set_generator_param_values(values);
    Halide::Module module = generator->build_module(result.functionName);
    if (needsSprRetarget(target)) {
      module.compile({{Halide::OutputFileType::bitcode, bitcode.temporaryPath()},
                      {Halide::OutputFileType::c_header, header.temporaryPath()}});
      runOrThrow({llcPath(), "-O3", "-mcpu=sapphirerapids", "-mattr=" + family.kernelLlcAttributes,
                  "-relocation-model=pic", "-function-sections", "-filetype=obj", "-o", object.temporaryPath(),
                  bitcode.temporaryPath()});
    } else {
      module.compile({{Halide::OutputFileType::object, object.temporaryPath()},
                      {Halide::OutputFileType::c_header, header.temporaryPath()}});
    }
  } catch (const Halide::Error &e) {
    throw std::runtime_error("kernel " + generatorName + ": " + e.what());
  }
  header.commit();
  object.commit();
  return result;
}

fs::path KernelCache::runtime(const std::string &familyName) {
  const target::CpuFamily &family = familyOrThrow(familyName);
  // The runtime needs no wide vectors; the baseline of the architecture keeps it free of the
  // SPR-only instructions (see CpuFamily::kernelLlcAttributes).
  Halide::Target target(family.halideTarget);
  Halide::Target baseline(target.os, target.arch, target.bits);
  if (target.arch == Halide::Target::X86) baseline = Halide::Target("x86-64-linux-sse41-avx-f16c-fma-avx2");
  std::string identity = std::string(kCacheFormat) + "\nruntime\n" + baseline.to_string();
  fs::path path = directory_ / ("runtime-" + hex(support::fnv1a(identity)) + ".o");
  if (fs::exists(path)) return path;
  std::lock_guard<std::mutex> lock(mutex_);
  support::AtomicFile file(path.string());
  Halide::compile_standalone_runtime(file.temporaryPath(), baseline);
  file.commit();
  return path;
}

} // namespace granite::kernels
