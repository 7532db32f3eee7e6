// Compiles each golden model with `granitec compile --emit=obj`, links the object with its kernels into a shared
// library, and runs granite_forward against llama.cpp's outputs (shared/golden/README.md): the prompt in one call and
// the 16 decode steps fed the reference's tokens, real greedy decoding, one call of 80 tokens against the same ids in
// chunks, and the KV caches against llama.cpp's keys (after RoPE) and values. The quantized models also run compiled
// for the x86 families that keep f32 activations. One case builds the executable, one runs dense-f32 compiled for
// aarch64 under qemu.
#include "Codegen/WeightBlob.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"
#include "Frontend/ImportModel.h"
#include "Frontend/ModelSource.h"
#include "ModelAbi.h"
#include "Target/CpuFamily.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "test/TestFiles.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using granite::test::maxAbsDiff;
using granite::test::readFloats;

/// Tokens of the long call: more than two of the 32-token pieces that the lowering feeds ssm_scan per call.
constexpr int kLongCall = 80;
constexpr int kMaxTokens = kLongCall;
constexpr int kContext = 128;

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
  int32_t (*forward)(const uint8_t *, uint8_t *, uint8_t *, const int32_t *, int32_t, int32_t, int32_t,
                     float *) = nullptr;
};

/// Writes the weight blob of the model at `gguf` to `path`, laid out by granite-plan-weights as granitec lays it out;
/// `bytes` is its size.
bool writePlannedWeightBlob(const fs::path &gguf, const fs::path &path, uint64_t &bytes, std::string &error) {
  mlir::MLIRContext context;
  granite::gguf::File file = granite::gguf::File::open(gguf.string());
  granite::ModelSource source = granite::modelSourceFromGGUF(file, granite::loadGraniteConfig(file));
  mlir::OwningOpRef<mlir::ModuleOp> module = granite::importModel(context, source);
  mlir::PassManager pm(&context);
  pm.addPass(mlir::granite::createGranitePlanWeights());
  if (!module || mlir::failed(pm.run(*module))) {
    error = "import or weight planning failed";
    return false;
  }
  bytes = (*module)->getAttrOfType<mlir::IntegerAttr>(mlir::granite::kWeightBlobBytesAttr).getInt();
  std::ofstream out(path, std::ios::binary);
  return granite::codegen::writeWeightBlob(*module, out, error);
}

/// Compiles `model` for `family`, links and loads it, once per process; fails the current test on any error.
const CompiledModel *compiledModel(const std::string &model, const std::string &family = "host") {
  static std::map<std::string, std::unique_ptr<CompiledModel>> models;
  const std::string key = model + "." + family;
  if (auto it = models.find(key); it != models.end()) return it->second.get();
  const fs::path gguf = fs::path(GRANITE_GOLDEN_DIR) / "models" / (model + ".gguf");
  // Per process: ctest runs cases of the same model in parallel processes.
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / (key + "." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path object = work / "model.o", library = work / "model.so", blob = work / "model.weights";

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << GRANITE_BIN_DIR << "/granitec compile " << gguf << " --emit=obj --target " << family << " --max-tokens "
          << kMaxTokens << " --ctx " << kContext << " -o " << object;
  EXPECT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  std::ostringstream link;
  link << "c++ -shared -o " << library << " " << object;
  std::ifstream objects(object.string() + ".link");
  for (std::string line; std::getline(objects, line);) link << " " << line;
  link << " -lpthread -ldl";
  EXPECT_EQ(std::system(link.str().c_str()), 0) << link.str();

  // The weight blob, planned as the compiler planned it (granite-plan-weights on the same imported IR).
  uint64_t blobBytes = 0;
  {
    std::string error;
    if (!writePlannedWeightBlob(gguf, blob, blobBytes, error)) {
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
  EXPECT_EQ(compiled->info->weights_bytes, blobBytes);
  int fd = open(blob.c_str(), O_RDONLY);
  compiled->weightsBytes = blobBytes;
  void *mapped = mmap(nullptr, blobBytes, PROT_READ, MAP_PRIVATE, fd, 0);
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

int argmax(const float *row, int n) { return static_cast<int>(std::max_element(row, row + n) - row); }

/// f32 rounding alone: the same sums in another order (our kernels' lanes and tiles against ggml's). The logits and
/// the cached keys reach |x| = 8 to 11 (ulp 9.5e-7); llama.cpp's own batch and token-by-token runs differ by up to
/// 5.3e-6 (shared/golden/README.md), and each f32 path here differs from its reference by at most 1.0e-5 (prompt,
/// steps, chunks, caches; x86-64-avx2, -avx512 and -avx512-bf16 on an AMD EPYC Zen 5; dense-f32 on aarch64-neon under
/// qemu: 5.8e-6). Twice that, for other summation orders (another family's lanes, a retuned tile).
constexpr float kF32Rounding = 2e-5f;

struct GoldenCase {
  std::string model;
  std::string reference; ///< logits file prefix: the model, or <model>.deqref for f32 math on quantized weights
  std::string family;    ///< the CPU family compiled for: "host", or one the host may be unable to run
  float promptBound;     ///< max |logit - reference| of the prompt fed in one call
  float stepBound;       ///< the same for the decode steps (one token per call)
  float chunkBound;      ///< max |logit difference| between our chunked calls and our one long call
  /// The same for a prompt fed one token per call, where it differs (our K-quants' decode sums in llama.cpp's decode
  /// order, their prefill in its batch order); unset: chunkBound.
  std::optional<float> oneTokenChunkBound = std::nullopt;
};

void PrintTo(const GoldenCase &golden, std::ostream *os) { *os << golden.reference << " on " << golden.family; }

class GoldenModelTest : public testing::TestWithParam<GoldenCase> {
protected:
  void SetUp() override {
    const granite::target::CpuFamily *family = granite::target::findFamily(GetParam().family);
    ASSERT_NE(family, nullptr) << GetParam().family;
    if (!granite::target::hostCanRun(*family)) GTEST_SKIP() << "the host cannot run " << family->name << " code";
  }
};

/// The golden facts and logits of one reference (shared/golden/README.md).
struct Reference {
  explicit Reference(const std::string &name) {
    const fs::path logitsDir = fs::path(GRANITE_GOLDEN_DIR) / "logits";
    nlohmann::json facts = readJson(logitsDir / (name + ".json"));
    prompt = facts["prompt_ids"].get<std::vector<int32_t>>();
    greedy = facts["greedy_ids"].get<std::vector<int32_t>>();
    gaps = facts["greedy_top1_minus_top2"].get<std::vector<float>>();
    promptLogits = readFloats(logitsDir / (name + ".prompt_logits.f32"));
    genLogits = readFloats(logitsDir / (name + ".gen_logits.f32"));
  }
  std::vector<int32_t> prompt, greedy;
  std::vector<float> gaps, promptLogits, genLogits;
};

/// The bound on step k's logits: step 0 is the prompt's last row, computed with the prompt.
float stepBound(const GoldenCase &golden, size_t k) { return k == 0 ? golden.promptBound : golden.stepBound; }

/// Our argmax must be the reference's when its top-two gap is over twice the logits' bound: within the bound, the top
/// logit can fall by at most the bound and the runner-up rise by at most the bound.
bool idDecided(float gap, float bound) { return gap > 2 * bound; }

// The prompt in one call, then the 16 decode steps, each fed the reference's greedy token (so every step stays
// comparable whatever our argmax was): the logits against the reference, and our argmax at every decided step.
TEST_P(GoldenModelTest, PromptAndGreedySteps) {
  const GoldenCase &golden = GetParam();
  const CompiledModel *model = compiledModel(golden.model, golden.family);
  ASSERT_NE(model, nullptr);
  const Reference reference(golden.reference);
  const int vocab = model->info->vocab_size;
  ASSERT_EQ(reference.promptLogits.size(), reference.prompt.size() * vocab);

  Sequence sequence(*model->info);
  std::vector<float> logits(reference.prompt.size() * vocab);
  ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), reference.prompt.data(),
                           static_cast<int32_t>(reference.prompt.size()), 0, 1, logits.data()),
            0);
  float promptDiff = maxAbsDiff(logits.data(), reference.promptLogits.data(), logits.size());
  EXPECT_LE(promptDiff, golden.promptBound) << "prompt logits";

  float stepDiff = 0;
  int idsCompared = 0;
  std::vector<float> step(logits.end() - vocab, logits.end());
  for (size_t k = 0; k < reference.greedy.size(); ++k) {
    if (k > 0) {
      ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), &reference.greedy[k - 1],
                               1, static_cast<int32_t>(reference.prompt.size() + k - 1), 0, step.data()),
                0);
      stepDiff = std::max(stepDiff, maxAbsDiff(step.data(), &reference.genLogits[k * vocab], vocab));
    }
    if (idDecided(reference.gaps[k], stepBound(golden, k))) {
      EXPECT_EQ(argmax(step.data(), vocab), reference.greedy[k]) << "greedy step " << k;
      ++idsCompared;
    }
  }
  EXPECT_LE(stepDiff, golden.stepBound) << "greedy step logits";
  RecordProperty("max_abs_diff_prompt", std::to_string(promptDiff));
  RecordProperty("max_abs_diff_steps", std::to_string(stepDiff));
  RecordProperty("ids_compared", idsCompared);
  std::cout << golden.reference << " on " << model->info->target << ": max |diff| prompt " << promptDiff
            << ", greedy steps " << stepDiff << "; ids compared " << idsCompared << " of " << reference.greedy.size()
            << "\n";
}

// Real greedy decoding: each step is fed our own argmax. While our ids are the reference's, our steps are its steps,
// so every decided id must match (and the logits stay within the bound); an undecided step may legitimately pick
// another id, after which the two runs see different tokens and nothing more can be compared.
TEST_P(GoldenModelTest, GreedyDecodingFollowsReference) {
  const GoldenCase &golden = GetParam();
  const CompiledModel *model = compiledModel(golden.model, golden.family);
  ASSERT_NE(model, nullptr);
  const Reference reference(golden.reference);
  const int vocab = model->info->vocab_size;
  const int32_t n = static_cast<int32_t>(reference.prompt.size());

  Sequence sequence(*model->info);
  std::vector<float> step(vocab);
  ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), reference.prompt.data(), n, 0,
                           0, step.data()),
            0);
  size_t followed = 0;
  int idsCompared = 0;
  for (size_t k = 0; k < reference.greedy.size(); ++k) {
    if (k > 0) {
      int32_t previous = reference.greedy[k - 1]; // ours too: the loop stops at the first id that differs
      ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), &previous, 1,
                               n + static_cast<int32_t>(k) - 1, 0, step.data()),
                0);
    }
    EXPECT_LE(maxAbsDiff(step.data(), &reference.genLogits[k * vocab], vocab), stepBound(golden, k))
        << "greedy step " << k;
    const int id = argmax(step.data(), vocab);
    if (idDecided(reference.gaps[k], stepBound(golden, k))) {
      EXPECT_EQ(id, reference.greedy[k]) << "greedy step " << k << " (decided: gap " << reference.gaps[k] << ")";
      ++idsCompared;
    }
    if (id != reference.greedy[k]) break;
    ++followed;
  }
  RecordProperty("ids_compared", idsCompared);
  std::cout << golden.reference << " on " << model->info->target << ": greedy path followed for " << followed << " of "
            << reference.greedy.size() << " steps, " << idsCompared << " ids decided\n";
}

/// The prompt, the reference's greedy ids, then arbitrary ids up to `count`: more than two of the 32-token pieces
/// that the lowering feeds ssm_scan per call.
std::vector<int32_t> longSequence(const Reference &reference, int vocab, int count) {
  std::vector<int32_t> ids = reference.prompt;
  ids.insert(ids.end(), reference.greedy.begin(), reference.greedy.end());
  for (int i = static_cast<int>(ids.size()); i < count; ++i) ids.push_back((37 * i + 11) % vocab);
  return ids;
}

// kLongCall tokens in one granite_forward call against the same ids in chunks of 1, 5, 12 and 33 (llama.cpp's chunked
// logits are bit-identical to its whole-prompt ones). The long call's first rows are also the reference's: the prompt
// rows, then the steps' rows computed as a batch (row 23 + k holds what greedy step k chose from).
TEST_P(GoldenModelTest, ChunksMatchOneLongCall) {
  const GoldenCase &golden = GetParam();
  const CompiledModel *model = compiledModel(golden.model, golden.family);
  ASSERT_NE(model, nullptr);
  const Reference reference(golden.reference);
  const int vocab = model->info->vocab_size;
  ASSERT_GE(model->info->max_tokens, kLongCall);
  const std::vector<int32_t> ids = longSequence(reference, vocab, kLongCall);
  const size_t promptRows = reference.prompt.size();

  Sequence whole(*model->info);
  std::vector<float> expected(ids.size() * vocab);
  ASSERT_EQ(model->forward(model->weights, whole.state.get(), whole.scratch.get(), ids.data(), kLongCall, 0, 1,
                           expected.data()),
            0);
  EXPECT_LE(maxAbsDiff(expected.data(), reference.promptLogits.data(), promptRows * vocab), golden.promptBound)
      << "the long call's prompt rows";
  float stepRowsDiff = 0;
  for (size_t k = 1; k < reference.greedy.size(); ++k)
    stepRowsDiff = std::max(
        stepRowsDiff, maxAbsDiff(&expected[(promptRows + k - 1) * vocab], &reference.genLogits[k * vocab], vocab));
  EXPECT_LE(stepRowsDiff, golden.stepBound) << "the long call's rows of the greedy steps";

  float chunkDiff = 0;
  for (int32_t chunk : {1, 5, 12, 33}) {
    Sequence sequence(*model->info);
    std::vector<float> logits(ids.size() * vocab);
    for (int32_t start = 0; start < kLongCall; start += chunk) {
      int32_t count = std::min(chunk, kLongCall - start);
      ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), &ids[start], count, start,
                               1, &logits[start * vocab]),
                0);
    }
    float diff = maxAbsDiff(logits.data(), expected.data(), logits.size());
    const float bound = chunk == 1 ? golden.oneTokenChunkBound.value_or(golden.chunkBound) : golden.chunkBound;
    EXPECT_LE(diff, bound) << "chunks of " << chunk;
    chunkDiff = std::max(chunkDiff, diff);
  }
  RecordProperty("max_abs_diff_chunks", std::to_string(chunkDiff));
  std::cout << golden.reference << " on " << model->info->target << ": one call of " << kLongCall
            << " tokens against chunks: max |diff| " << chunkDiff << "; its step rows against the reference "
            << stepRowsDiff << "\n";
}

/// One file of shared/golden/intermediates/<model>: [tokens][...] floats, shaped as index.txt says (ggml order).
struct Intermediate {
  std::array<int64_t, 4> shape{};
  std::vector<float> data;
};

std::map<std::string, Intermediate> readIntermediates(const fs::path &dir) {
  std::map<std::string, Intermediate> files;
  std::ifstream index(dir / "index.txt");
  std::string name;
  Intermediate entry;
  while (index >> name >> entry.shape[0] >> entry.shape[1] >> entry.shape[2] >> entry.shape[3]) {
    entry.data = readFloats(dir / name);
    files[name.substr(0, name.size() - std::string(".f32").size())] = entry;
  }
  return files;
}

class GoldenIntermediatesTest : public testing::TestWithParam<std::string> {};

// The KV caches after the prompt against llama.cpp's keys and values (shared/golden/intermediates): each position's
// key is stored after RoPE, so this sees absolute positions, which the logits cannot (RoPE keeps only relative angles:
// every position shifted by one moves dense-f32's logits by 5e-6), and the cache slot each token went to. The prompt
// goes in as one call and in chunks of 5 (calls that start past 0).
TEST_P(GoldenIntermediatesTest, CachedKeysAndValuesMatchLlamaCpp) {
  const std::string &name = GetParam();
  const CompiledModel *model = compiledModel(name);
  ASSERT_NE(model, nullptr);
  const std::map<std::string, Intermediate> golden =
      readIntermediates(fs::path(GRANITE_GOLDEN_DIR) / "intermediates" / name);
  const std::vector<int32_t> prompt =
      readJson(fs::path(GRANITE_GOLDEN_DIR) / "logits" / (name + ".json"))["prompt_ids"].get<std::vector<int32_t>>();
  const int32_t n = static_cast<int32_t>(prompt.size());

  // Per-position state ranges, ascending: the keys then the values of each attention layer, in layer order.
  std::vector<GraniteStateRegion> caches;
  for (int32_t i = 0; i < model->info->state_region_count; ++i)
    if (model->info->state_regions[i].bytes_per_position != 0) caches.push_back(model->info->state_regions[i]);
  std::vector<int> attentionLayers;
  for (int layer = 0; golden.count("l_out-" + std::to_string(layer) + ".0"); ++layer)
    if (golden.count("Kcur-" + std::to_string(layer) + ".0")) attentionLayers.push_back(layer);
  ASSERT_FALSE(attentionLayers.empty());
  ASSERT_EQ(caches.size(), 2 * attentionLayers.size());

  for (int32_t chunk : {n, 5}) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk));
    Sequence sequence(*model->info);
    std::vector<float> logits(model->info->vocab_size);
    for (int32_t start = 0; start < n; start += chunk) {
      ASSERT_EQ(model->forward(model->weights, sequence.state.get(), sequence.scratch.get(), &prompt[start],
                               std::min(chunk, n - start), start, 0, logits.data()),
                0);
    }
    for (size_t j = 0; j < attentionLayers.size(); ++j) {
      const std::string layer = std::to_string(attentionLayers[j]);
      // Kcur .2 is after RoPE (dense only); without RoPE the cached key is the projection, .1.
      const std::string keys = golden.count("Kcur-" + layer + ".2") ? "Kcur-" + layer + ".2" : "Kcur-" + layer + ".1";
      for (const auto &[cache, goldenName] :
           {std::pair{caches[2 * j], keys}, std::pair{caches[2 * j + 1], "Vcur-" + layer + ".1"}}) {
        const Intermediate &expected = golden.at(goldenName);
        const size_t row = static_cast<size_t>(expected.shape[0] * expected.shape[1]);
        ASSERT_EQ(cache.bytes_per_position, row * sizeof(float)) << goldenName;
        ASSERT_EQ(expected.data.size(), row * prompt.size()) << goldenName;
        const float *cached = reinterpret_cast<const float *>(sequence.state.get() + cache.offset);
        float diff = maxAbsDiff(cached, expected.data.data(), expected.data.size());
        EXPECT_LE(diff, kF32Rounding) << goldenName << " at positions 0.." << n - 1;
        std::cout << name << " " << goldenName << ", chunks of " << chunk << ": max |diff| " << diff << "\n";
      }
    }
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
  compile << GRANITE_BIN_DIR << "/granitec compile " << gguf << " --ctx " << kContext << " --max-tokens " << kMaxTokens
          << " -o " << executable;
  ASSERT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  std::ostringstream run;
  run << executable << " --chunk 5 --logits " << logitsFile << " --ids ";
  for (size_t i = 0; i < prompt.size(); ++i) run << (i ? "," : "") << prompt[i];
  ASSERT_EQ(std::system(run.str().c_str()), 0) << run.str();

  std::vector<float> logits = readFloats(logitsFile), expected = readFloats(logitsDir / "dense-f32.prompt_logits.f32");
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LE(maxAbsDiff(logits.data(), expected.data(), logits.size()), kF32Rounding);
  fs::remove_all(work);
}

// Code for another family: dense-f32 compiled for aarch64-neon (model object, kernels and runtime), linked with
// RunForward.c by the cross compiler and run under qemu-aarch64 on the prompt.
TEST(GoldenCrossTargetTest, DenseF32OnAarch64UnderQemu) {
  const char *cxx = "/usr/bin/aarch64-linux-gnu-g++", *qemu = "/usr/bin/qemu-aarch64";
  if (!fs::exists(cxx) || !fs::exists(qemu)) GTEST_SKIP() << "aarch64 cross compiler or qemu-aarch64 not installed";
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
  for (std::string line; std::getline(objects, line);) link << " " << line;
  link << " -o " << runner << " -lpthread -ldl";
  ASSERT_EQ(std::system(link.str().c_str()), 0) << link.str();
  {
    uint64_t blobBytes = 0;
    std::string error;
    ASSERT_TRUE(writePlannedWeightBlob(gguf, blob, blobBytes, error)) << error;
  }
  std::ostringstream run;
  run << qemu << " -L /usr/aarch64-linux-gnu " << runner << " " << blob << " ";
  for (size_t i = 0; i < prompt.size(); ++i) run << (i ? "," : "") << prompt[i];
  run << " " << logitsFile;
  ASSERT_EQ(std::system(run.str().c_str()), 0) << run.str();

  std::vector<float> logits = readFloats(logitsFile), expected = readFloats(logitsDir / "dense-f32.prompt_logits.f32");
  ASSERT_EQ(logits.size(), expected.size());
  float diff = maxAbsDiff(logits.data(), expected.data(), logits.size());
  EXPECT_LE(diff, kF32Rounding);
  std::cout << "dense-f32 on aarch64-neon: max |diff| prompt " << diff << "\n";
  fs::remove_all(work);
}

std::string caseName(const testing::TestParamInfo<GoldenCase> &info) {
  std::string name = info.param.model + (info.param.family == "host" ? "" : "_on_" + info.param.family);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    F32, GoldenModelTest,
    testing::Values(GoldenCase{"dense-f32", "dense-f32", "host", kF32Rounding, kF32Rounding, kF32Rounding},
                    GoldenCase{"hybrid-f32", "hybrid-f32", "host", kF32Rounding, kF32Rounding, kF32Rounding},
                    GoldenCase{"moe-f32", "moe-f32", "host", kF32Rounding, kF32Rounding, kF32Rounding}),
    caseName);

/// llama.cpp's own logits where the host family rounds activations as llama.cpp does, else deqref.
GoldenCase referenceCase(const std::string &model, bool llamaNumerics, float promptBound, float stepBound,
                         float chunkBound, std::optional<float> oneTokenChunkBound = std::nullopt) {
  if (llamaNumerics) return {model, model, "host", promptBound, stepBound, chunkBound, oneTokenChunkBound};
  return {model, model + ".deqref", "host", kF32Rounding, kF32Rounding, kF32Rounding};
}

const granite::target::ScheduleDefaults &hostDefaults() { return granite::target::hostFamily().defaults; }

// The host family's products decide the reference (lib/Target's ScheduleDefaults, docs/kernels.md): with bf16Dot
// (BF16 and vdpbf16ps) and quantizedDot (Q8_0 / Q8_K activations, integer dot products), llama.cpp's own logits.
// Bounds measured on an AMD EPYC Zen 5 (x86-64-avx512-bf16). A Sapphire Rapids runs x86-64-amx: the same code except
// BF16 prefill on AMX tiles (another f32 summation order; not yet measured against these bounds).
//
// Q8_0 and K-quants: the integer sums are exact and every f32 step is an IEEE add or multiply in the schedule's fixed
// order; the kernels use no approximate instruction (no rcp14/rsqrt14: Halide's own exp, and glibc's sincosf, whose
// FMA variant both CPUs select) and their parallel split does not depend on the threads. Both CPUs therefore compute
// the same bits, and each bound is what was measured here, rounded up:
// * dense-q8_0 and hybrid-q8_0 prompt and steps: 0. Both products take the f32 steps of llama.cpp's (an fma per block
//   into each of 8 sums, added as hsum_float_8 does): kF32Rounding.
// * dense-q4_k_m prompt and steps: 1.9e-6: kF32Rounding. The K-quants' prefill takes the f32 steps of llama.cpp's
//   batch product (q4_K_8x8's fma per 64 elements) and their decode those of its decode product, so both match.
// * chunks: 0. Q8_0's matvec and matmul run the same integer products and f32 steps, the quantized matmul gives a
//   token's row independently of the other tokens of the call (docs/kernels.md), and every other kernel too, so
//   chunks are bit-identical to one call, as llama.cpp's are; measured 0. Except dense-q4_k_m fed one token per call:
//   that is decode, whose K-quant order is not the batch's (llama.cpp's own token-by-token run differs from its
//   batch by 0.16, README); measured 0.18: 0.2.
// BF16: one vdpbf16ps per pair of products. Here our prefill runs llama.cpp's order and its bits (dense-bf16's prompt:
// 0), but Intel's vdpbf16ps (round after each of the two products, RNE, DAZ/FTZ) is not checked against AMD's here,
// and one ulp of difference in any earlier sum can round an activation to the neighbouring BF16 value (one part in
// 256), moving the logits by a few 1e-2: measured 0.026 on dense-bf16's steps, 0.028 (prompt) and 0.034 (steps) on
// hybrid-bf16, and 0.035 between hybrid-bf16's chunks and one call (matvec and matmul sum in other orders); llama.cpp's
// own token-by-token run of hybrid-bf16 differs from its batch by 0.030. 0.04 covers that on both CPUs and stays below
// the deqref gaps of 0.051 and 0.068, so the test still tells BF16 activations from f32 ones.
INSTANTIATE_TEST_SUITE_P(
    Quantized, GoldenModelTest,
    testing::Values(referenceCase("dense-bf16", hostDefaults().bf16Dot, 0.04f, 0.04f, 0.04f),
                    referenceCase("dense-q8_0", hostDefaults().quantizedDot, kF32Rounding, kF32Rounding, 0.0f),
                    referenceCase("dense-q4_k_m", hostDefaults().quantizedDot, kF32Rounding, kF32Rounding, 0.0f, 0.2f),
                    referenceCase("hybrid-bf16", hostDefaults().bf16Dot, 0.04f, 0.04f, 0.04f),
                    referenceCase("hybrid-q8_0", hostDefaults().quantizedDot, kF32Rounding, kF32Rounding, 0.0f)),
    caseName);

/// llama.cpp on the dequantized weights, for a family that keeps f32 activations: f32 rounding only.
GoldenCase deqrefCase(const std::string &model, const std::string &family) {
  return {model, model + ".deqref", family, kF32Rounding, kF32Rounding, kF32Rounding};
}

// The families without BF16 and VNNI keep f32 activations (and read the K-quants' kernel order with loops of their
// own): every quantized model compiled for them against deqref, and the f32 models with AVX2's 8 lanes (AVX-512's f32
// products are the host family's). Each case is skipped where the host cannot run the family.
INSTANTIATE_TEST_SUITE_P(
    F32Activations, GoldenModelTest,
    testing::Values(deqrefCase("dense-bf16", "x86-64-avx2"), deqrefCase("dense-bf16", "x86-64-avx512"),
                    deqrefCase("dense-q8_0", "x86-64-avx2"), deqrefCase("dense-q8_0", "x86-64-avx512"),
                    deqrefCase("dense-q4_k_m", "x86-64-avx2"), deqrefCase("dense-q4_k_m", "x86-64-avx512"),
                    deqrefCase("hybrid-bf16", "x86-64-avx2"), deqrefCase("hybrid-bf16", "x86-64-avx512"),
                    deqrefCase("hybrid-q8_0", "x86-64-avx2"), deqrefCase("hybrid-q8_0", "x86-64-avx512"),
                    GoldenCase{"dense-f32", "dense-f32", "x86-64-avx2", kF32Rounding, kF32Rounding, kF32Rounding},
                    GoldenCase{"hybrid-f32", "hybrid-f32", "x86-64-avx2", kF32Rounding, kF32Rounding, kF32Rounding},
                    GoldenCase{"moe-f32", "moe-f32", "x86-64-avx2", kF32Rounding, kF32Rounding, kF32Rounding}),
    caseName);

INSTANTIATE_TEST_SUITE_P(F32, GoldenIntermediatesTest, testing::Values("dense-f32", "hybrid-f32", "moe-f32"),
                         [](const testing::TestParamInfo<std::string> &info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
