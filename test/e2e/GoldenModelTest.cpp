// Compiles each golden model with `granitec compile --emit=obj`, links the object with its kernels into a shared
// library, and runs granite_forward against llama.cpp's logits (shared/golden/README.md): the prompt in one call,
// the 16 greedy decode steps, and the prompt in chunks of 1, 5 and 12. One case builds the executable, one runs
// dense-f32 compiled for aarch64 under qemu, one dense-q4_k_m compiled for the x86 families without VNNI.
#include "Codegen/WeightBlob.h"
#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"
#include "Frontend/ImportModel.h"
#include "Frontend/ModelSource.h"
#include "Target/CpuFamily.h"
#include "ModelAbi.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace {

namespace fs = std::filesystem;

constexpr int kMaxTokens = 32;
constexpr int kContext = 64;

std::vector<float> readFloats(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> data(fs::file_size(path) / sizeof(float));
  in.read(reinterpret_cast<char *>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
  return data;
}

nlohmann::json readJson(const fs::path &path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

/// A compiled golden model: the loaded library, its weight blob (mapped) and the ABI entry points.
struct CompiledModel {
  void *library = nullptr;
  const uint8_t *weights = nullptr;
  size_t weightsBytes = 0;
  const GraniteModelInfo *info = nullptr;
  int32_t (*forward)(const uint8_t *, uint8_t *, uint8_t *, const int32_t *, int32_t, int32_t, int32_t, float *) =
      nullptr;
};

/// Compiles `model` for `family`, links and loads it, once per process; fails the current test on any error.
const CompiledModel *compiledModel(const std::string &model, const std::string &family = "host") {
  static std::map<std::string, std::unique_ptr<CompiledModel>> models;
  const std::string key = model + "." + family;
  if (auto it = models.find(key); it != models.end())
    return it->second.get();
  const fs::path gguf = fs::path(GRANITE_GOLDEN_DIR) / "models" / (model + ".gguf");
  // Per process: ctest runs cases of the same model in parallel processes.
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / (key + "." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path object = work / "model.o", library = work / "model.so", blob = work / "model.weights";

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << GRANITE_BIN_DIR << "/granitec compile " << gguf << " --emit=obj --target " << family
          << " --max-tokens " << kMaxTokens << " --ctx " << kContext << " -o " << object;
  EXPECT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  std::ostringstream link;
  link << "c++ -shared -o " << library << " " << object;
  std::ifstream objects(object.string() + ".link");
  for (std::string line; std::getline(objects, line);)
    link << " " << line;
  link << " -lpthread -ldl";
  EXPECT_EQ(std::system(link.str().c_str()), 0) << link.str();

  // The weight blob, from the same IR the compiler planned.
  mlir::MLIRContext context;
  granite::gguf::File file = granite::gguf::File::open(gguf.string());
  granite::ModelSource source = granite::modelSourceFromGGUF(file, granite::loadGraniteConfig(file));
  mlir::OwningOpRef<mlir::ModuleOp> module = granite::importModel(context, source);
  if (!module) {
    ADD_FAILURE() << "import failed";
    return nullptr;
  }
  granite::codegen::WeightBlobLayout layout = granite::codegen::planWeightBlob(*module);
  {
    std::ofstream out(blob, std::ios::binary);
    std::string error;
    if (!granite::codegen::writeWeightBlob(*module, layout, out, error)) {
      ADD_FAILURE() << error;
      return nullptr;
    }
  }

  auto compiled = std::make_unique<CompiledModel>();
  compiled->library = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!compiled->library) {
    ADD_FAILURE() << dlerror();
    return nullptr;
  }
  auto info = reinterpret_cast<const GraniteModelInfo *(*)()>(dlsym(compiled->library, "granite_model_info"));
  compiled->forward = reinterpret_cast<decltype(compiled->forward)>(dlsym(compiled->library, "granite_forward"));
  auto setThreads = reinterpret_cast<int32_t (*)(int32_t)>(dlsym(compiled->library, "granite_set_threads"));
  if (!info || !compiled->forward || !setThreads) {
    ADD_FAILURE() << "the library lacks an ABI function";
    return nullptr;
  }
  compiled->info = info();
  EXPECT_EQ(setThreads(2), 2);
  EXPECT_EQ(compiled->info->weights_bytes, layout.totalBytes);
  int fd = open(blob.c_str(), O_RDONLY);
  compiled->weightsBytes = layout.totalBytes;
  void *mapped = mmap(nullptr, layout.totalBytes, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) {
    ADD_FAILURE() << "cannot map " << blob;
    return nullptr;
  }
  compiled->weights = static_cast<const uint8_t *>(mapped);
  fs::remove_all(work); // loaded and mapped: the files are no longer needed (kept when anything above failed)
  return (models[key] = std::move(compiled)).get();
}

/// State and scratch of one sequence.
struct Sequence {
  explicit Sequence(const GraniteModelInfo &info)
      : state(static_cast<uint8_t *>(std::aligned_alloc(64, roundUp(info.state_bytes)))),
        scratch(static_cast<uint8_t *>(std::aligned_alloc(64, roundUp(info.scratch_bytes)))) {
    std::fill(state.get(), state.get() + info.state_bytes, 0);
  }
  static size_t roundUp(uint64_t bytes) { return (bytes + 63) / 64 * 64; }
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> state, scratch;
};

float maxAbsDiff(const float *a, const float *b, size_t n) {
  float worst = 0;
  for (size_t i = 0; i < n; ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

int argmax(const float *row, int n) { return static_cast<int>(std::max_element(row, row + n) - row); }

struct GoldenCase {
  std::string model;
  std::string reference; ///< logits file prefix: the model, or <model>.deqref for f32 math on quantized weights
  float tolerance;
  /// Prompt fed in chunks against the whole prompt.
  float chunkTolerance = 1e-4f;
};

void PrintTo(const GoldenCase &golden, std::ostream *os) { *os << golden.reference; }

class GoldenModelTest : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenModelTest, PromptAndGreedySteps) {
  const GoldenCase &golden = GetParam();
  const CompiledModel *model = compiledModel(golden.model);
  ASSERT_NE(model, nullptr);
  const fs::path logitsDir = fs::path(GRANITE_GOLDEN_DIR) / "logits";
  nlohmann::json facts = readJson(logitsDir / (golden.reference + ".json"));
  std::vector<int32_t> prompt = facts["prompt_ids"].get<std::vector<int32_t>>();
  std::vector<int32_t> greedy = facts["greedy_ids"].get<std::vector<int32_t>>();
  std::vector<float> gaps = facts["greedy_top1_minus_top2"].get<std::vector<float>>();
  std::vector<float> promptLogits = readFloats(logitsDir / (golden.reference + ".prompt_logits.f32"));
  std::vector<float> genLogits = readFloats(logitsDir / (golden.reference + ".gen_logits.f32"));
  const int vocab = model->info->vocab_size;
  ASSERT_EQ(promptLogits.size(), prompt.size() * vocab);

  Sequence sequence(*model->info);
  std::vector<float> logits(prompt.size() * vocab);
  ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), prompt.data(),
                           static_cast<int32_t>(prompt.size()), 0, 1, logits.data()),
            0);
  float promptDiff = maxAbsDiff(logits.data(), promptLogits.data(), logits.size());
  EXPECT_LE(promptDiff, golden.tolerance) << "prompt logits";

  // Step 0 is the prompt's last row; step k feeds greedy token k-1 (the reference's, so every row stays comparable).
  float stepDiff = 0;
  bool idsComparable = true;
  std::vector<float> step(logits.end() - vocab, logits.end());
  for (size_t k = 0; k < greedy.size(); ++k) {
    if (k > 0) {
      ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), &greedy[k - 1], 1,
                               static_cast<int32_t>(prompt.size() + k - 1), 0, step.data()),
                0);
    }
    stepDiff = std::max(stepDiff, maxAbsDiff(step.data(), &genLogits[k * vocab], vocab));
    idsComparable = idsComparable && gaps[k] >= golden.tolerance;
    if (idsComparable) {
      EXPECT_EQ(argmax(step.data(), vocab), greedy[k]) << "greedy step " << k;
    }
  }
  EXPECT_LE(stepDiff, golden.tolerance) << "greedy step logits";
  RecordProperty("max_abs_diff_prompt", std::to_string(promptDiff));
  RecordProperty("max_abs_diff_steps", std::to_string(stepDiff));
  std::cout << golden.reference << ": max |diff| prompt " << promptDiff << ", greedy steps " << stepDiff << "\n";
}

TEST_P(GoldenModelTest, ChunkedPrefillMatchesWholePrompt) {
  const GoldenCase &golden = GetParam();
  const CompiledModel *model = compiledModel(golden.model);
  ASSERT_NE(model, nullptr);
  nlohmann::json facts = readJson(fs::path(GRANITE_GOLDEN_DIR) / "logits" / (golden.reference + ".json"));
  std::vector<int32_t> prompt = facts["prompt_ids"].get<std::vector<int32_t>>();
  const int vocab = model->info->vocab_size;
  const int32_t n = static_cast<int32_t>(prompt.size());

  Sequence whole(*model->info);
  std::vector<float> expected(prompt.size() * vocab);
  ASSERT_EQ(model->forward(model->weights, whole.state.get(), whole.scratch.get(), prompt.data(), n, 0, 1,
                           expected.data()),
            0);
  for (int32_t chunk : {1, 5, 12}) {
    Sequence sequence(*model->info);
    std::vector<float> logits(prompt.size() * vocab);
    for (int32_t start = 0; start < n; start += chunk) {
      int32_t count = std::min(chunk, n - start);
      ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), &prompt[start], count,
                               start, 1, &logits[start * vocab]),
                0);
    }
    EXPECT_LE(maxAbsDiff(logits.data(), expected.data(), logits.size()), golden.chunkTolerance)
        << "chunks of " << chunk;
  }
}

// The whole path of `granitec compile -o OUT`: the executable (kernels, runtime, embedded weights) prints the
// prompt's logits, fed in chunks of 5, through its --ids/--logits check mode (docs/executable.md).
TEST(GoldenExecutableTest, DenseF32PromptLogits) {
  const fs::path gguf = fs::path(GRANITE_GOLDEN_DIR) / "models" / "dense-f32.gguf";
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / ("executable." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path executable = work / "dense", logitsFile = work / "logits.f32";
  const fs::path logitsDir = fs::path(GRANITE_GOLDEN_DIR) / "logits";
  std::vector<int32_t> prompt = readJson(logitsDir / "dense-f32.json")["prompt_ids"].get<std::vector<int32_t>>();

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << GRANITE_BIN_DIR << "/granitec compile " << gguf << " --ctx " << kContext << " --max-tokens "
          << kMaxTokens << " -o " << executable;
  ASSERT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  std::ostringstream run;
  run << executable << " --chunk 5 --logits " << logitsFile << " --ids ";
  for (size_t i = 0; i < prompt.size(); ++i)
    run << (i ? "," : "") << prompt[i];
  ASSERT_EQ(std::system(run.str().c_str()), 0) << run.str();

  std::vector<float> logits = readFloats(logitsFile), expected = readFloats(logitsDir / "dense-f32.prompt_logits.f32");
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LE(maxAbsDiff(logits.data(), expected.data(), logits.size()), 1e-4f);
  fs::remove_all(work);
}

// Code for another family: dense-f32 compiled for aarch64-neon (model object, kernels and runtime), linked with
// RunForward.c by the cross compiler and run under qemu-aarch64 on the prompt.
TEST(GoldenCrossTargetTest, DenseF32OnAarch64UnderQemu) {
  const char *cxx = "/usr/bin/aarch64-linux-gnu-g++", *qemu = "/usr/bin/qemu-aarch64";
  if (!fs::exists(cxx) || !fs::exists(qemu))
    GTEST_SKIP() << "aarch64 cross compiler or qemu-aarch64 not installed";
  const fs::path gguf = fs::path(GRANITE_GOLDEN_DIR) / "models" / "dense-f32.gguf";
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / ("aarch64." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path object = work / "model.o", runner = work / "run-forward", blob = work / "model.weights",
                 logitsFile = work / "logits.f32";
  const fs::path logitsDir = fs::path(GRANITE_GOLDEN_DIR) / "logits";
  std::vector<int32_t> prompt = readJson(logitsDir / "dense-f32.json")["prompt_ids"].get<std::vector<int32_t>>();

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << GRANITE_BIN_DIR << "/granitec compile " << gguf << " --emit=obj --target aarch64-neon --ctx " << kContext
          << " --max-tokens " << kMaxTokens << " -o " << object;
  ASSERT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  std::ostringstream link;
  link << cxx << " -O1 -I" << GRANITE_SOURCE_DIR << "/runtime -x c " << GRANITE_SOURCE_DIR
       << "/test/e2e/RunForward.c -x none " << object;
  std::ifstream objects(object.string() + ".link");
  for (std::string line; std::getline(objects, line);)
    link << " " << line;
  link << " -o " << runner << " -lpthread -ldl";
  ASSERT_EQ(std::system(link.str().c_str()), 0) << link.str();
  {
    mlir::MLIRContext context;
    granite::gguf::File file = granite::gguf::File::open(gguf.string());
    granite::ModelSource source = granite::modelSourceFromGGUF(file, granite::loadGraniteConfig(file));
    mlir::OwningOpRef<mlir::ModuleOp> module = granite::importModel(context, source);
    ASSERT_TRUE(module);
    std::ofstream out(blob, std::ios::binary);
    std::string error;
    ASSERT_TRUE(granite::codegen::writeWeightBlob(*module, granite::codegen::planWeightBlob(*module), out, error))
        << error;
  }
  std::ostringstream run;
  run << qemu << " -L /usr/aarch64-linux-gnu " << runner << " " << blob << " ";
  for (size_t i = 0; i < prompt.size(); ++i)
    run << (i ? "," : "") << prompt[i];
  run << " " << logitsFile;
  ASSERT_EQ(std::system(run.str().c_str()), 0) << run.str();

  std::vector<float> logits = readFloats(logitsFile), expected = readFloats(logitsDir / "dense-f32.prompt_logits.f32");
  ASSERT_EQ(logits.size(), expected.size());
  float diff = maxAbsDiff(logits.data(), expected.data(), logits.size());
  EXPECT_LE(diff, 1e-4f);
  std::cout << "dense-f32 on aarch64-neon: max |diff| prompt " << diff << "\n";
  fs::remove_all(work);
}

// The families without VNNI keep f32 activations (docs/kernels.md) and read the K-quants' kernel order with loops of
// their own (storage order, 8 or 16 lanes): dense-q4_k_m (Q4_K and Q6_K) compiled for them, against the prompt
// logits of llama.cpp on the dequantized weights.
TEST(GoldenCrossTargetTest, DenseQ4_K_MWithF32Activations) {
  const fs::path logitsDir = fs::path(GRANITE_GOLDEN_DIR) / "logits";
  nlohmann::json facts = readJson(logitsDir / "dense-q4_k_m.deqref.json");
  std::vector<int32_t> prompt = facts["prompt_ids"].get<std::vector<int32_t>>();
  std::vector<float> expected = readFloats(logitsDir / "dense-q4_k_m.deqref.prompt_logits.f32");
  int families = 0;
  for (const char *name : {"x86-64-avx2", "x86-64-avx512"}) {
    SCOPED_TRACE(name);
    const granite::target::CpuFamily *family = granite::target::findFamily(name);
    ASSERT_NE(family, nullptr);
    if (!granite::target::hostCanRun(*family))
      continue;
    ++families;
    const CompiledModel *model = compiledModel("dense-q4_k_m", name);
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(expected.size(), prompt.size() * model->info->vocab_size);
    Sequence sequence(*model->info);
    std::vector<float> logits(expected.size());
    ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), prompt.data(),
                             static_cast<int32_t>(prompt.size()), 0, 1, logits.data()),
              0);
    float diff = maxAbsDiff(logits.data(), expected.data(), logits.size());
    EXPECT_LE(diff, 1e-3f);
    std::cout << "dense-q4_k_m on " << name << ": max |diff| prompt " << diff << " (deqref)\n";
  }
  if (families == 0)
    GTEST_SKIP() << "the host runs neither x86-64-avx2 nor x86-64-avx512 code";
}

std::string caseName(const testing::TestParamInfo<GoldenCase> &info) {
  std::string name = info.param.model;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(F32, GoldenModelTest,
                         testing::Values(GoldenCase{"dense-f32", "dense-f32", 1e-4f},
                                         GoldenCase{"hybrid-f32", "hybrid-f32", 1e-4f},
                                         GoldenCase{"moe-f32", "moe-f32", 1e-4f}),
                         caseName);

// The host family's products decide the reference (lib/Target's ScheduleDefaults, docs/kernels.md). Where they
// round the activations to the weights' dot type as llama.cpp does (bf16Dot: BF16 and vdpbf16ps; quantizedDot:
// Q8_0 / Q8_K and integer dot products), the models compare with llama.cpp's own logits; elsewhere the products
// keep f32 activations and compare with llama.cpp on the dequantized weights (deqref) at 1e-3.
// Tolerances against llama.cpp (shared/golden/README.md): our decode matches llama.cpp's decode to about 1e-6 on
// the q8_0 models; prefill differs from llama.cpp's batch only by f32 rounding (our sums are strict, llama.cpp fuses
// multiply-adds), which here rounds a few activation quants the other way: 0.041 on dense-q8_0, 1e-6 on
// hybrid-q8_0. 0.1 covers that and stays below the deqref gaps of 0.15 and 0.27, so the test still tells llama.cpp's
// numerics from f32 activations. dense-q4_k_m: llama.cpp's own decode differs from its batch by 0.16 (the README's
// "token by token" column) and we observe 2.4e-6 (prompt) and 0.16 (greedy steps, where our decode follows
// llama.cpp's batch arithmetic and llama.cpp's decode does not); 0.2 is that spread plus a margin.
// BF16 with vdpbf16ps: a different f32 summation order in an earlier product can round an activation to the other
// neighbouring BF16 value, which moves the logits by a few 1e-2. llama.cpp's own token-by-token run of hybrid-bf16
// differs from its batch by 3.0e-2 (README); we observe 0 (prompt) and 0.026 (greedy steps) on dense-bf16, 0.028 and
// 0.034 on hybrid-bf16, and 0.035 between hybrid-bf16's prompt fed token by token and whole. 0.04 covers that and
// stays below the deqref gaps of 0.051 and 0.068, so the test still tells llama.cpp's numerics from f32 activations.
GoldenCase referenceCase(const std::string &model, bool llamaNumerics, float llamaTolerance,
                         float chunkTolerance = 1e-4f) {
  if (llamaNumerics)
    return {model, model, llamaTolerance, chunkTolerance};
  return {model, model + ".deqref", 1e-3f};
}

const granite::target::ScheduleDefaults &hostDefaults() { return granite::target::hostFamily().defaults; }

INSTANTIATE_TEST_SUITE_P(Quantized, GoldenModelTest,
                         testing::Values(referenceCase("dense-bf16", hostDefaults().bf16Dot, 0.04f, 0.04f),
                                         referenceCase("dense-q8_0", hostDefaults().quantizedDot, 0.1f),
                                         referenceCase("dense-q4_k_m", hostDefaults().quantizedDot, 0.2f),
                                         referenceCase("hybrid-bf16", hostDefaults().bf16Dot, 0.04f, 0.04f),
                                         referenceCase("hybrid-q8_0", hostDefaults().quantizedDot, 0.1f)),
                         caseName);

} // namespace
