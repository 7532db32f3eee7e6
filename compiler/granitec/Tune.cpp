#include "Tune.h"

#include "CommandLine.h"
#include "Compile.h"
#include "Conversion/GraniteToKernels/Passes.h"
#include "Format/GGMLType.h"
#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"
#include "Frontend/HuggingFace.h"
#include "Frontend/ImportModel.h"
#include "Frontend/ModelSource.h"
#include "Kernels/KernelCache.h"
#include "Kernels/Tuning.h"
#include "Pipeline/GranitePipeline.h"
#include "Support/Subprocess.h"
#include "Target/CpuFamily.h"
#include "runtime/CpuFeatures.h"

#include "HalideBuffer.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <regex>

namespace granite::driver {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char *const kTuneHelp = R"(usage: granitec tune MODEL [--budget SECONDS] [-o FILE] [--target FAMILY] [--no-e2e]

Searches the schedule knobs of every linear product (matvec, matmul, expert_matvec) MODEL needs on this machine:
each candidate is compiled through the kernel cache, timed on random inputs of the real shape, checked against
the untuned kernel's output, and the fastest is kept (coordinate descent over the knobs of the family's
ScheduleDefaults, slowest kernels first). Prints before/after per kernel and, unless --no-e2e, the prefill and
decode tokens/s of the model compiled without and with the tuning.

options:
  --budget SECONDS    stop searching after this long (default 300); the kernels not reached keep their defaults
  -o FILE             tuning file to write (merged with what it holds); default: the host's file in the kernel
                      cache, which 'granitec compile' for the host then picks up by itself
  --target FAMILY     family to tune (default host; it must run on this machine)
  --no-e2e            skip the end-to-end comparison
  -q                  no progress lines
  -h, --help          show this help
)";

/// Tokens of the prefill product timed (matmul): the order of a prompt chunk.
constexpr int kPrefillTokens = 128;
/// Decode products read this much weight memory per timing (copies of the matrix), so that they stream from DRAM
/// as in a real model rather than from cache.
constexpr size_t kDecodeBytes = size_t(256) << 20;
/// A candidate must be this much faster than the best so far, in the search and again when confirmed against the
/// defaults: other processes on the machine move single timings by a few percent.
constexpr double kMinGain = 0.03;

struct Instance {
  std::string key, generator;
  std::string name; ///< the function name the model calls: the chosen candidate is then already in the cache
  kernels::KernelParams params;
};

/// A shape parameter of the instance.
int shape(const Instance &instance, const std::string &name) {
  return int(kernels::paramAs<int64_t>(instance.params, name));
}

/// The table row of the instance's weight type.
GGMLTypeTraits weightFormat(const Instance &instance) {
  return traitsOf(kernels::paramAs<GGMLType>(instance.params, "weight_type"));
}

/// Random inputs of one instance's shape, and the kernel's output buffer.
struct Inputs {
  std::vector<std::vector<uint8_t>> weights; // copies, rotated through for decode
  std::vector<int> weightDims;
  halide_type_t weightType;
  std::vector<float> x;
  std::vector<int32_t> ids;
  int K = 0, N = 0, tokens = 1, rows = 0;
};

Inputs makeInputs(const Instance &instance) {
  Inputs in;
  const GGMLTypeTraits format = weightFormat(instance);
  in.K = shape(instance, "in_features");
  in.N = shape(instance, "out_features");
  const int experts = instance.generator == "expert_matvec" ? shape(instance, "experts") : 1;
  const int slots = instance.generator == "expert_matvec" ? shape(instance, "slots") : 1;
  in.rows = in.N * slots;
  in.tokens = instance.generator == "matmul" ? kPrefillTokens : 1;
  const int elementBytes = format.storage == WeightStorage::F32 ? 4 : format.storage == WeightStorage::U16 ? 2 : 1;
  const int rowElements = in.K / int(format.blockElements) * int(format.blockBytes) / elementBytes;
  in.weightType = elementBytes == 4   ? halide_type_of<float>()
                  : elementBytes == 2 ? halide_type_of<uint16_t>()
                                      : halide_type_of<uint8_t>();
  in.weightDims = {rowElements, in.N};
  if (instance.generator == "expert_matvec") in.weightDims.push_back(experts);
  const size_t bytes = size_t(rowElements) * in.N * experts * elementBytes;
  std::mt19937 random(7);
  std::vector<uint8_t> first(bytes);
  if (format.type == GGMLType::F32) {
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (size_t i = 0; i < bytes / 4; ++i) {
      float v = value(random);
      std::memcpy(&first[i * 4], &v, 4);
    }
  } else {
    // Every byte 0x30..0x3b: each f16/bf16 value and block scale is a normal number (no subnormal slow paths).
    for (size_t i = 0; i < bytes; ++i)
      first[i] = i % 2 == 0 && elementBytes == 2 ? uint8_t(random()) : uint8_t(0x30 + random() % 12);
  }
  const size_t copies = in.tokens == 1 ? std::clamp<size_t>(kDecodeBytes / std::max<size_t>(bytes, 1), 1, 64) : 1;
  in.weights.assign(copies, first);
  std::uniform_real_distribution<float> activation(-1.0f, 1.0f);
  in.x.resize(size_t(in.K) * in.tokens);
  for (float &v : in.x) v = activation(random);
  for (int s = 0; s < slots; ++s) in.ids.push_back(s % experts);
  return in;
}

using Linear3 = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
using Linear4 = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);

/// One compiled candidate, loaded: a shared object of the kernel and its own Halide runtime (-Bsymbolic, so that
/// it uses neither libHalide's symbols nor another candidate's).
class LoadedKernel {
public:
  LoadedKernel(const kernels::CompiledKernel &kernel, const fs::path &runtime, const fs::path &workDir) {
    const fs::path library = workDir / (kernel.key + ".so");
    if (!fs::exists(library)) {
      int status = 0;
      std::string error;
      if (!support::runProcess(
              {"c++", "-shared", "-Wl,-Bsymbolic", "-o", library.string(), kernel.object.string(), runtime.string()},
              status, nullptr, error) ||
          status != 0)
        throw std::runtime_error("cannot link " + library.string() + " with c++" + (error.empty() ? "" : ": " + error));
    }
    handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!handle_) throw std::runtime_error(std::string("dlopen: ") + dlerror());
    function_ = dlsym(handle_, kernel.functionName.c_str());
    if (!function_) throw std::runtime_error("no symbol " + kernel.functionName);
  }
  // Kept loaded until exit: the runtime's worker threads may still be parked in its code.
  void *function() const { return function_; }

private:
  void *handle_ = nullptr, *function_ = nullptr;
};

struct Timing {
  double us = 0;
  std::vector<float> y;
  void *function = nullptr;
};

/// Best time of a few calls (at least 5, about 0.2 s), rotating through the weight copies; y of copy 0.
Timing timeKernel(const Instance &instance, Inputs &in, void *function) {
  Halide::Runtime::Buffer<float> x = in.tokens == 1 ? Halide::Runtime::Buffer<float>(in.x.data(), in.K)
                                                    : Halide::Runtime::Buffer<float>(in.x.data(), in.K, in.tokens);
  Halide::Runtime::Buffer<float> y =
      in.tokens == 1 ? Halide::Runtime::Buffer<float>(in.rows) : Halide::Runtime::Buffer<float>(in.rows, in.tokens);
  Halide::Runtime::Buffer<int32_t> ids(in.ids.data(), int(in.ids.size()));
  std::vector<Halide::Runtime::Buffer<void>> weights;
  for (auto &copy : in.weights) weights.emplace_back(in.weightType, copy.data(), in.weightDims);
  auto call = [&](size_t copy) {
    int status = instance.generator == "expert_matvec"
                     ? reinterpret_cast<Linear4>(function)(weights[copy].raw_buffer(), ids.raw_buffer(), x.raw_buffer(),
                                                           y.raw_buffer())
                     : reinterpret_cast<Linear3>(function)(weights[copy].raw_buffer(), x.raw_buffer(), y.raw_buffer());
    if (status != 0) throw std::runtime_error("kernel returned " + std::to_string(status));
  };
  call(0);
  Timing timing;
  timing.y.assign(y.data(), y.data() + y.number_of_elements());
  double best = 1e30;
  const auto start = Clock::now();
  for (size_t i = 0; i < 5 || (Clock::now() - start < std::chrono::milliseconds(200) && i < 2000); ++i) {
    const auto before = Clock::now();
    call((i + 1) % weights.size());
    best = std::min(best, std::chrono::duration<double, std::micro>(Clock::now() - before).count());
  }
  timing.us = best;
  return timing;
}

/// Max |a - b| relative to max |b|: a candidate must compute what the untuned kernel computes, up to f32 summation
/// order (the golden tests' bounds are far looser than this in absolute terms).
bool sameResults(const std::vector<float> &a, const std::vector<float> &b) {
  float peak = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return false;
    peak = std::max(peak, std::abs(b[i]));
    diff = std::max(diff, std::abs(a[i] - b[i]));
  }
  return diff <= 1e-4f * peak;
}

std::string describe(const kernels::Knobs &knobs) {
  std::string text;
  for (const auto &[name, value] : knobs) text += (text.empty() ? "" : " ") + name + "=" + value;
  return text.empty() ? "(defaults)" : text;
}

std::string shortName(const Instance &instance) {
  return instance.generator + " " + std::string(weightFormat(instance).mnemonic) + " " +
         std::to_string(shape(instance, "in_features")) + "x" + std::to_string(shape(instance, "out_features"));
}

/// The kernel instances the compiled model would call: the compile pipeline up to the lowering.
std::vector<Instance> modelInstances(const std::string &path, const target::CpuFamily &family) {
  std::optional<ModelSource> source;
  std::optional<gguf::File> file;
  if (isHuggingFaceFolder(path)) {
    source = loadHuggingFaceFolder(path);
  } else {
    file.emplace(gguf::File::open(path));
    source = modelSourceFromGGUF(*file, loadGraniteConfig(*file));
  }
  mlir::MLIRContext context;
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    diagnostics = diag.str();
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module = importModel(context, *source);
  if (!module || mlir::failed(mlir::verify(*module))) throw std::runtime_error("import failed: " + diagnostics);
  mlir::PassManager pm(&context);
  mlir::granite::GranitePipelineOptions pipeline;
  pipeline.target = family.name;
  mlir::granite::buildGranitePipeline(pm, pipeline);
  if (mlir::failed(pm.run(*module))) throw std::runtime_error("lowering failed: " + diagnostics);
  std::vector<Instance> instances;
  for (const mlir::granite::KernelSpec &spec : mlir::granite::readKernelSpecs(*module)) {
    if (!kernels::isTunable(spec.generator)) continue;
    std::string key = kernels::instanceKey(spec.generator, spec.params);
    if (std::none_of(instances.begin(), instances.end(), [&](const Instance &i) { return i.key == key; }))
      instances.push_back({key, spec.generator, spec.name, spec.params});
  }
  return instances;
}

/// Compiles MODEL with `tuning` ("none" for the defaults) and returns its --bench prefill and decode tokens/s.
std::pair<double, double> benchModel(const std::string &model, const target::CpuFamily &family,
                                     const std::string &tuning, const fs::path &workDir) {
  const std::string exe = (workDir / (tuning == "none" ? "untuned" : "tuned")).string();
  if (runCompile({model, "-o", exe, "-q", "--target", family.name, "--tuning", tuning, "--ctx", "512"}) != 0)
    throw std::runtime_error("compiling " + model + " failed");
  std::pair<double, double> best = {0, 0};
  for (int run = 0; run < 2; ++run) { // the better of two runs: other processes on the machine add noise
    int status = 0;
    std::string output, error;
    if (!support::runProcess({exe, "--bench", "--bench-prompt", "128", "--bench-gen", "64"}, status, &output, error) ||
        status != 0)
      throw std::runtime_error(exe + " --bench failed" + (error.empty() ? "" : ": " + error));
    std::smatch prefill, decode;
    static const std::regex prefillLine(R"(prefill: .*, ([0-9.]+) tokens/s)"),
        decodeLine(R"(decode: .*, ([0-9.]+) tokens/s)");
    if (!std::regex_search(output, prefill, prefillLine) || !std::regex_search(output, decode, decodeLine))
      throw std::runtime_error("no tokens/s in the output of " + exe + " --bench");
    best = {std::max(best.first, std::stod(prefill[1])), std::max(best.second, std::stod(decode[1]))};
  }
  return best;
}

} // namespace

int runTune(const std::vector<std::string> &args) {
  try {
    ParsedArgs parsed("tune", args,
                      {{"--budget", true},
                       {"-o", true},
                       {"--target", true},
                       {"--no-e2e", false},
                       {"-q", false},
                       {"--help", false},
                       {"-h", false}});
    if (parsed.has("--help") || parsed.has("-h")) {
      std::cout << kTuneHelp;
      return 0;
    }
    if (parsed.positionals().size() != 1) throw UsageError("tune takes exactly one MODEL (see 'granitec tune --help')");
    double budget = 300;
    if (std::optional<std::string> text = parsed.value("--budget")) {
      try {
        budget = std::stod(*text);
      } catch (const std::exception &) {
        budget = -1;
      }
      if (!(budget > 0)) throw UsageError("--budget needs a positive number of seconds, got '" + *text + "'");
    }
    const std::string targetName = parsed.value("--target").value_or("host");
    const target::CpuFamily *family = target::findFamily(targetName);
    if (!family) throw UsageError("unknown --target '" + targetName + "' (one of " + target::validTargetNames() + ")");
    if (!target::hostCanRun(*family))
      throw UsageError("this machine cannot run " + family->name + " code, so it cannot tune it");
    const bool quiet = parsed.has("-q");
    const std::string model = parsed.positionals()[0];
    const std::string cpu = runtime::cpuModel();

    kernels::KernelCache cache;
    const fs::path output = parsed.value("-o").value_or(kernels::hostTuningPath(cache.directory(), *family, cpu));
    kernels::TuningFile tuning = fs::exists(output) ? kernels::TuningFile::load(output) : kernels::TuningFile{};
    const fs::path workDir = fs::temp_directory_path() / ("granitec-tune-" + std::to_string(getpid()));
    fs::create_directories(workDir);
    struct RemoveWorkDir {
      fs::path path;
      ~RemoveWorkDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
      }
    } cleanup{workDir};

    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    std::vector<Instance> instances = modelInstances(model, *family);
    const fs::path runtimeObject = cache.runtime(family->name);
    std::vector<std::unique_ptr<LoadedKernel>> loaded;
    auto measure = [&](const Instance &instance, Inputs &in, const kernels::Knobs &knobs, std::string &key) {
      kernels::CompiledKernel kernel =
          cache.instantiate({instance.generator, instance.params, family->name, instance.name, knobs});
      key = kernel.key;
      loaded.push_back(std::make_unique<LoadedKernel>(kernel, runtimeObject, workDir));
      Timing timing = timeKernel(instance, in, loaded.back()->function());
      timing.function = loaded.back()->function();
      return timing;
    };

    // Baselines first (the defaults, as an untuned compile gets them), then the slowest kernels get the budget first.
    struct Result {
      Instance instance;
      double beforeUs = 0, afterUs = 0;
      kernels::Knobs knobs;
      bool searched = false;
    };
    std::vector<Result> results;
    for (const Instance &instance : instances) {
      Inputs in = makeInputs(instance);
      std::string key;
      Timing base = measure(instance, in, {}, key);
      results.push_back({instance, base.us, base.us, {}, false});
      if (!quiet) std::cerr << "granitec: tune: " << shortName(instance) << ": defaults " << base.us << " us\n";
    }
    // By time per token: a prefill product serves kPrefillTokens tokens per call.
    auto perToken = [](const Result &r) {
      return r.beforeUs / (r.instance.generator == "matmul" ? kPrefillTokens : 1);
    };
    std::sort(results.begin(), results.end(),
              [&](const Result &a, const Result &b) { return perToken(a) > perToken(b); });
    bool outOfTime = false;
    for (Result &result : results) {
      if (elapsed() >= budget) {
        outOfTime = true;
        break;
      }
      const Instance &instance = result.instance;
      Inputs in = makeInputs(instance);
      std::string bestKey;
      Timing reference = measure(instance, in, {}, bestKey);
      result.beforeUs = std::min(reference.us, result.beforeUs); // the defaults' best of both timings
      double best = result.beforeUs;
      void *bestFunction = reference.function;
      std::vector<std::string> seen = {bestKey};
      for (const auto &[knob, choices] : kernels::tunableKnobs(*family, instance.generator, instance.params)) {
        for (const std::string &choice : choices) {
          if (elapsed() >= budget) {
            outOfTime = true;
            break;
          }
          kernels::Knobs candidate = result.knobs;
          candidate[knob] = choice;
          std::string key;
          Timing timing;
          try {
            // The key says whether this is a knob set already timed (e.g. a choice equal to the default).
            key = cache.instantiate({instance.generator, instance.params, family->name, instance.name, candidate}).key;
            if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
            seen.push_back(key);
            timing = measure(instance, in, candidate, key);
          } catch (const std::exception &e) { // a knob value the generator rejects for this shape
            if (!quiet)
              std::cerr << "granitec: tune: " << shortName(instance) << ": " << describe(candidate) << ": " << e.what()
                        << "\n";
            continue;
          }
          const bool same = sameResults(timing.y, reference.y);
          if (!quiet)
            std::cerr << "granitec: tune: " << shortName(instance) << ": " << describe(candidate) << " " << timing.us
                      << " us" << (same ? "" : " (results differ: rejected)") << " [" << int(elapsed()) << "/"
                      << int(budget) << " s]\n";
          if (same && timing.us < best * (1 - kMinGain)) {
            best = timing.us;
            bestFunction = timing.function;
            result.knobs = candidate;
          }
        }
        if (outOfTime) break;
      }
      result.afterUs = best;
      // Confirm the winner against the defaults, timed alternately: one lucky timing must not make the choice.
      if (!result.knobs.empty()) {
        double defaults = 1e30, tuned = 1e30;
        for (int round = 0; round < 3; ++round) {
          defaults = std::min(defaults, timeKernel(instance, in, reference.function).us);
          tuned = std::min(tuned, timeKernel(instance, in, bestFunction).us);
        }
        const bool confirmed = tuned < defaults * (1 - kMinGain);
        if (!quiet)
          std::cerr << "granitec: tune: " << shortName(instance) << ": " << describe(result.knobs) << " " << tuned
                    << " us against the defaults' " << defaults << " us: " << (confirmed ? "kept" : "dropped") << "\n";
        result.beforeUs = defaults;
        result.afterUs = confirmed ? tuned : defaults;
        if (!confirmed) result.knobs.clear();
      }
      result.searched = true;
      if (outOfTime) break;
    }

    int kept = 0;
    for (const Result &result : results) {
      if (!result.searched) continue;
      tuning.put({family->name, cpu, result.instance.key, result.knobs, result.beforeUs, result.afterUs});
      ++kept;
    }
    tuning.save(output);

    std::printf("tuned %s on %s (family %s) in %.0f s%s\n", model.c_str(), cpu.c_str(), family->name.c_str(), elapsed(),
                outOfTime ? " (budget reached; the rest keep their defaults)" : "");
    std::printf("%-36s %12s %12s %8s  %s\n", "kernel", "before us", "after us", "speedup", "knobs");
    for (const Result &result : results)
      std::printf("%-36s %12.1f %12.1f %7.2fx  %s\n", shortName(result.instance).c_str(), result.beforeUs,
                  result.afterUs, result.beforeUs / result.afterUs,
                  result.searched ? describe(result.knobs).c_str() : "(not reached)");
    std::printf("%d kernels written to %s\n", kept, output.c_str());
    std::fflush(stdout);
    if (!parsed.has("--no-e2e")) {
      auto [prefillBefore, decodeBefore] = benchModel(model, *family, "none", workDir);
      auto [prefillAfter, decodeAfter] = benchModel(model, *family, output.string(), workDir);
      std::printf("end to end: prefill %.1f -> %.1f tokens/s, decode %.1f -> %.1f tokens/s\n", prefillBefore,
                  prefillAfter, decodeBefore, decodeAfter);
    }
    return 0;
  } catch (const UsageError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 1;
  }
}

} // namespace granite::driver
