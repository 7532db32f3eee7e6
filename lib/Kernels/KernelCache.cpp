#include "Kernels/KernelCache.h"

#include "Target/CpuFamily.h"

#include "Halide.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

extern char **environ;

namespace granite::kernels {
namespace {

namespace fs = std::filesystem;

// Part of every key: the fingerprint of the generator sources (lib/Kernels/CMakeLists.txt), so
// objects from an older kernel library are never reused.
constexpr const char *kCacheFormat = "granitec-kernels-" GRANITE_KERNEL_FINGERPRINT;

// Halide 14 compiles avx512_sapphirerapids with LLVM -mcpu=sapphirerapids, which also enables
// AVX512-FP16 (e.g. vmovw) that Zen 4/5 lack. For targets with that feature the module is emitted
// as bitcode and llc re-targets it without the SPR-only extensions.
constexpr const char *kSprRetargetAttributes =
    "-mattr=-avx512fp16,-avxvnni,-amx-tile,-amx-int8,-amx-bf16";

uint64_t fnv1a(const std::string &text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char ch : text) {
    hash ^= ch;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string hex(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

const target::CpuFamily &familyOrThrow(const std::string &name) {
  const target::CpuFamily *family = target::findFamily(name);
  if (!family)
    throw std::invalid_argument("unknown CPU family: " + name);
  return *family;
}

bool needsSprRetarget(const Halide::Target &target) {
  return target.arch == Halide::Target::X86 &&
         target.has_feature(Halide::Target::AVX512_SapphireRapids);
}

std::string llcPath() {
  if (const char *env = std::getenv("GRANITEC_LLC14"))
    return env;
  return GRANITE_LLC14_PATH;
}

void runOrThrow(const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (const std::string &arg : argv)
    args.push_back(const_cast<char *>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
    throw std::runtime_error("cannot start " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(argv[0] + " failed on " + argv.back());
}

/// Schedule knobs each generator takes, filled from the family when the request leaves them out.
void addFamilyDefaults(const std::string &generator, const target::CpuFamily &family,
                       std::map<std::string, std::string> &params) {
  const target::ScheduleDefaults &d = family.defaults;
  auto fill = [&](const char *name, int value) { params.emplace(name, std::to_string(value)); };
  auto type = params.find("weight_type");
  const bool decode = generator == "matvec" || generator == "expert_matvec";
  // matvec, expert_matvec and matmul take the same choice, so prefill and decode agree.
  bool blockQuantized = type != params.end() && (type->second == "q8_0" || type->second == "q4_k" ||
                                                 type->second == "q6_k");
  if (blockQuantized && (decode || generator == "matmul"))
    params.emplace("quantized_dot", d.quantizedDot ? "true" : "false");
  if (type != params.end() && type->second == "bf16" && (decode || generator == "matmul"))
    params.emplace("bf16_dot", d.bf16Dot ? "true" : "false");
  auto dot = params.find("quantized_dot");
  const bool quantized = dot != params.end() && dot->second == "true";
  // quantized_dot decode (measured on Zen 5, docs/kernels.md): one row at a time, so that the
  // hardware prefetchers follow one stream; the K-quants, whose blocks are read out of order, also
  // prefetch 32 blocks (4.5-6.6 KB) ahead.
  if (quantized && decode && type != params.end()) {
    fill("tile_rows", 1);
    fill("prefetch_blocks", type->second == "q8_0" ? 0 : 32);
  }
  if (decode) {
    bool streamed = type != params.end() && (type->second == "f32" || type->second == "f16" ||
                                             type->second == "bf16");
    fill("vector_width", streamed ? d.streamLanes : d.vectorWidth);
    fill("tile_rows", streamed ? 1 : d.decodeRows);
  }
  if (generator != "moe_router")
    fill("vector_width", d.vectorWidth);
  if (generator == "matmul") {
    fill("tile_rows", quantized ? d.quantizedDotRows : d.prefillRows);
    fill("tile_tokens", quantized ? d.quantizedDotTokens : d.prefillTokens);
  }
  if (type != params.end()) {
    static const std::map<std::string, std::string> storage = {
        {"f32", "float32"}, {"f16", "uint16"}, {"bf16", "uint16"},
        {"q8_0", "uint8"},  {"q4_k", "uint8"}, {"q6_k", "uint8"}};
    auto it = storage.find(type->second);
    if (it == storage.end())
      throw std::invalid_argument("unknown weight_type: " + type->second);
    params.emplace("weights.type", it->second);
  }
}

/// Writes through a temporary name and renames, so a concurrent granitec never sees half a file.
fs::path temporaryFor(const fs::path &path) {
  return path.string() + ".tmp" + std::to_string(getpid());
}

} // namespace

fs::path KernelCache::defaultDirectory() {
  if (const char *dir = std::getenv("GRANITEC_KERNEL_CACHE"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "granitec" / "kernels";
  const char *home = std::getenv("HOME");
  return fs::path(home ? home : "/tmp") / ".cache" / "granitec" / "kernels";
}

KernelCache::KernelCache(fs::path directory) : directory_(std::move(directory)) {
  fs::create_directories(directory_);
}

std::vector<std::string> KernelCache::generators() {
  return Halide::Internal::GeneratorRegistry::enumerate();
}

CompiledKernel KernelCache::instantiate(const KernelRequest &request) {
  const auto names = generators();
  if (std::find(names.begin(), names.end(), request.generator) == names.end())
    throw std::invalid_argument("unknown kernel generator: " + request.generator);
  const target::CpuFamily &family = familyOrThrow(request.family);
  std::map<std::string, std::string> params = request.params;
  addFamilyDefaults(request.generator, family, params);
  const std::string targetString = family.halideTarget + "-no_runtime";

  std::string identity = std::string(kCacheFormat) + "\n" + request.generator + "\n" +
                         targetString + "\n" + request.functionName + "\n";
  for (const auto &[name, value] : params)
    identity += name + "=" + value + "\n";
  CompiledKernel result;
  result.key = hex(fnv1a(identity));
  result.functionName = request.functionName.empty()
                            ? "granite_" + request.generator + "_" + result.key
                            : request.functionName;
  result.object = directory_ / (result.key + ".o");
  result.header = directory_ / (result.key + ".h");
  if (fs::exists(result.object) && fs::exists(result.header)) {
    result.cacheHit = true;
    return result;
  }

  std::lock_guard<std::mutex> lock(mutex_);
  Halide::Target target(targetString);
  Halide::GeneratorContext context(target);
  auto generator = Halide::Internal::GeneratorRegistry::create(request.generator, context);
  Halide::Internal::GeneratorParamsMap values;
  for (const auto &[name, value] : params)
    values[name] = value;
  fs::path object = temporaryFor(result.object), header = temporaryFor(result.header);
  fs::path bitcode = temporaryFor(directory_ / (result.key + ".bc"));
  auto removeTemporaries = [&] {
    std::error_code ignored;
    for (const fs::path &path : {object, header, bitcode})
      fs::remove(path, ignored);
  };
  try {
    generator->set_generator_param_values(values);
    Halide::Module module = generator->build_module(result.functionName);
    if (needsSprRetarget(target)) {
      module.compile({{Halide::OutputFileType::bitcode, bitcode.string()},
                      {Halide::OutputFileType::c_header, header.string()}});
      runOrThrow({llcPath(), "-O3", "-mcpu=sapphirerapids", kSprRetargetAttributes,
                  "-relocation-model=pic", "-function-sections", "-filetype=obj", "-o",
                  object.string(), bitcode.string()});
      fs::remove(bitcode);
    } else {
      module.compile({{Halide::OutputFileType::object, object.string()},
                      {Halide::OutputFileType::c_header, header.string()}});
    }
  } catch (const Halide::Error &e) {
    removeTemporaries();
    throw std::runtime_error("kernel " + request.generator + ": " + e.what());
  } catch (...) {
    removeTemporaries();
    throw;
  }
  fs::rename(header, result.header);
  fs::rename(object, result.object);
  return result;
}

fs::path KernelCache::runtime(const std::string &familyName) {
  const target::CpuFamily &family = familyOrThrow(familyName);
  // The runtime needs no wide vectors; the baseline of the architecture keeps it free of the
  // SPR-only instructions (see kSprRetargetAttributes).
  Halide::Target target(family.halideTarget);
  Halide::Target baseline(target.os, target.arch, target.bits);
  if (target.arch == Halide::Target::X86)
    baseline = Halide::Target("x86-64-linux-sse41-avx-f16c-fma-avx2");
  std::string identity = std::string(kCacheFormat) + "\nruntime\n" + baseline.to_string();
  fs::path path = directory_ / ("runtime-" + hex(fnv1a(identity)) + ".o");
  if (fs::exists(path))
    return path;
  std::lock_guard<std::mutex> lock(mutex_);
  fs::path temporary = temporaryFor(path);
  Halide::compile_standalone_runtime(temporary.string(), baseline);
  fs::rename(temporary, path);
  return path;
}

} // namespace granite::kernels
