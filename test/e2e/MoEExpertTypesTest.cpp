// MoE expert products on BF16 and Q8_0 experts against llama.cpp (issue #15, 4d): no golden model has such
// experts, so each case synthesizes a 2-layer h-tiny (map MA, 64 experts, 6 used, real widths and vocabulary) in
// that dtype, compiles it with granitec, and compares the executable's logits with node-llama-cpp's
// (scripts/node/llama-logits.mjs: F32 KV cache, flash attention off, as the golden reference) on the same file:
//   * the prompt in one call (prefill: the expert matmul on each selected expert's 2-D view),
//   * the prompt one token at a time (--chunk 1: expert_matvec for every position),
//   * the greedy steps (decode: expert_matvec), while the greedy path is the reference's.
// llama.cpp's outputs are cached in the build tree under a hash of the GGUF, the ids and the script (the latest
// entry per dtype).
#include "Format/GGMLType.h"
#include "Frontend/GGUF.h"
#include "Target/CpuFamily.h"

#include "test/TestFiles.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using granite::test::joinIds;
using granite::test::maxAbsDiff;
using granite::test::readFile;
using granite::test::readFloats;

// "Granite models compile ahead of time into one native executable for the CPU" and "Please summarize": ordinary
// tokens. With seed 7 no expert choice and no activation rounding here sits close enough to a tie to flip between
// the arithmetic variants measured below (on another prompt one token's expert choice did, moving its row by 1.0).
const std::vector<int32_t> kPrompt = {91823, 635,   4211,  19742, 8469, 315,   892,  1139,
                                      832,   10068, 33256, 369,   279,  14266, 5618, 63179};
constexpr int kGreedy = 8;
constexpr uint64_t kSeed = 7;

struct ExpertCase {
  const char *dtype; ///< granitec synth --dtype
  granite::GGMLType expertType;
  /// Max |logit difference| allowed against llama.cpp where the host family rounds the activations as llama.cpp
  /// does (bf16Dot / quantizedDot), and where it keeps them f32.
  float llamaArithmeticBound, f32ActivationBound;
};

void PrintTo(const ExpertCase &c, std::ostream *os) { *os << c.dtype; }

/// 64-bit words mixed into four lanes (splitmix64's finalizer): a cache key, not a cryptographic hash.
uint64_t hashBytes(const uint8_t *data, size_t size, uint64_t seed = 0) {
  auto mix = [](uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  uint64_t lanes[4] = {seed ^ 1, seed ^ 2, seed ^ 3, seed ^ size};
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int l = 0; l < 4; ++l) {
      uint64_t word;
      std::memcpy(&word, data + i + 8 * l, 8);
      lanes[l] = mix(lanes[l] ^ word) + 0x9e3779b97f4a7c15ULL;
    }
  for (; i < size; ++i) lanes[0] = mix(lanes[0] ^ data[i]);
  return mix(lanes[0] ^ mix(lanes[1] ^ mix(lanes[2] ^ mix(lanes[3]))));
}

uint64_t hashFile(const fs::path &path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return 0;
  const size_t size = fs::file_size(path);
  void *mapped = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) return 0;
  uint64_t hash = hashBytes(static_cast<const uint8_t *>(mapped), size);
  munmap(mapped, size);
  return hash;
}

std::string hex(uint64_t value) {
  std::ostringstream out;
  out << std::hex << value;
  return out.str();
}

int run(const std::string &command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class MoEExpertTypesTest : public testing::TestWithParam<ExpertCase> {};

TEST_P(MoEExpertTypesTest, LogitsMatchLlamaCpp) {
  const ExpertCase &c = GetParam();
  const fs::path work =
      fs::path(GRANITE_TEST_WORK_DIR) / ("moe-" + std::string(c.dtype) + "." + std::to_string(getpid()));
  fs::create_directories(work);
  // Removed however the case ends: the model and the executable are a GB each.
  struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() { fs::remove_all(path); }
  } removeWork{work};
  const fs::path gguf = work / "model.gguf", executable = work / "model";
  const std::string bin = GRANITE_BIN_DIR;

  std::ostringstream synth;
  synth << bin << "/granitec synth --like h-tiny --dtype " << c.dtype << " --layers 2 --seed " << kSeed << " -o "
        << gguf << " 2>/dev/null";
  ASSERT_EQ(run(synth.str()), 0) << synth.str();
  {
    // The point of the case: the expert tensors really are in the dtype under test.
    granite::gguf::File file = granite::gguf::File::open(gguf.string());
    for (const char *name : {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"}) {
      const granite::gguf::TensorInfo *tensor = file.findTensor(name);
      ASSERT_NE(tensor, nullptr) << name;
      EXPECT_EQ(tensor->type, c.expertType) << name;
      EXPECT_EQ(tensor->ne.size(), 3u) << name;
    }
  }

  // llama.cpp's reference, cached by the GGUF's hash, the ids and the script's text.
  const fs::path script = fs::path(GRANITE_SOURCE_DIR) / "scripts" / "node" / "llama-logits.mjs";
  const std::string request = joinIds(kPrompt) + ";" + std::to_string(kGreedy) + ";" + readFile(script);
  const std::string prefix = std::string(c.dtype) + "-";
  const uint64_t ggufHash = hashFile(gguf);
  ASSERT_NE(ggufHash, 0u) << "cannot read " << gguf;
  const std::string key =
      prefix + hex(ggufHash) + "-" + hex(hashBytes(reinterpret_cast<const uint8_t *>(request.data()), request.size()));
  const fs::path cache = fs::path(GRANITE_TEST_REFERENCE_CACHE);
  const fs::path refPrompt = cache / (key + ".prompt.f32"), refGen = cache / (key + ".gen.f32"),
                 refJson = cache / (key + ".json");
  if (!fs::exists(refJson)) {
    if (run("command -v node >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "node is not installed (scripts/setup installs it): no llama.cpp reference";
    if (!fs::exists(fs::path(GRANITE_SOURCE_DIR) / "scripts/node/node_modules/node-llama-cpp/package.json"))
      GTEST_SKIP() << "node-llama-cpp is not installed in scripts/node (scripts/setup installs it)";
    fs::create_directories(cache);
    for (const fs::directory_entry &entry : fs::directory_iterator(cache)) // one entry per dtype: drop stale ones
      if (entry.path().filename().string().rfind(prefix, 0) == 0) fs::remove(entry.path());
    const fs::path tmp = cache / (key + "." + std::to_string(getpid()));
    std::ostringstream node;
    node << "node " << script << " --model " << gguf << " --threads 2 --ids " << joinIds(kPrompt) << " --greedy "
         << kGreedy << " --logits " << tmp << ".prompt.f32 --gen-logits " << tmp << ".gen.f32 > " << tmp << ".json 2> "
         << tmp << ".log";
    ASSERT_EQ(run(node.str()), 0) << node.str() << "\n" << readFile(tmp.string() + ".log");
    fs::rename(tmp.string() + ".prompt.f32", refPrompt);
    fs::rename(tmp.string() + ".gen.f32", refGen);
    fs::rename(tmp.string() + ".json", refJson); // last: its presence means the entry is complete
    fs::remove(tmp.string() + ".log");
  }
  const nlohmann::json facts = nlohmann::json::parse(readFile(refJson));
  const std::vector<int32_t> refIds = facts["greedy_ids"].get<std::vector<int32_t>>();
  const std::vector<float> gaps = facts["greedy_top1_minus_top2"].get<std::vector<float>>();
  const std::vector<float> expected = readFloats(refPrompt), expectedGen = readFloats(refGen);
  const size_t vocab = facts["n_vocab"].get<size_t>();
  ASSERT_EQ(expected.size(), kPrompt.size() * vocab);
  ASSERT_EQ(expectedGen.size(), kGreedy * vocab);

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << bin << "/granitec compile " << gguf << " -q --ctx 64 --max-tokens 32 -o " << executable;
  ASSERT_EQ(run(compile.str()), 0) << compile.str();
  fs::remove(gguf); // a GB less on disk while the executable runs
  std::ostringstream whole, single;
  whole << executable << " --threads 2 --ids " << joinIds(kPrompt) << " --logits " << work / "prompt.f32"
        << " --greedy " << kGreedy << " --gen-logits " << work / "gen.f32" << " > " << work / "greedy.txt";
  ASSERT_EQ(run(whole.str()), 0) << whole.str();
  single << executable << " --threads 2 --chunk 1 --ids " << joinIds(kPrompt) << " --logits " << work / "chunk1.f32";
  ASSERT_EQ(run(single.str()), 0) << single.str();
  std::vector<int32_t> ids;
  {
    std::istringstream in(readFile(work / "greedy.txt"));
    for (int32_t id; in >> id;) ids.push_back(id);
  }
  const std::vector<float> prompt = readFloats(work / "prompt.f32"), chunk1 = readFloats(work / "chunk1.f32"),
                           gen = readFloats(work / "gen.f32");
  ASSERT_EQ(prompt.size(), expected.size()) << "the executable's vocabulary differs from llama.cpp's";
  ASSERT_EQ(chunk1.size(), expected.size());
  ASSERT_EQ(gen.size(), expectedGen.size());
  ASSERT_EQ(ids.size(), static_cast<size_t>(kGreedy));

  const granite::target::ScheduleDefaults &defaults = granite::target::hostFamily().defaults;
  const bool llamaArithmetic = c.expertType == granite::GGMLType::BF16 ? defaults.bf16Dot : defaults.quantizedDot;
  const float bound = llamaArithmetic ? c.llamaArithmeticBound : c.f32ActivationBound;
  const float promptDiff = maxAbsDiff(prompt.data(), expected.data(), prompt.size());
  const float chunkDiff = maxAbsDiff(chunk1.data(), expected.data(), chunk1.size());
  EXPECT_LE(promptDiff, bound) << "prompt logits, one call";
  EXPECT_LE(chunkDiff, bound) << "prompt logits, one token at a time";
  // Our own decode against our own prefill: the same arithmetic up to the f32 summation order (Q8_0's integer path
  // fixes even that: 0 measured), so 1e-4 (measured 5e-6 to 1.2e-5 with f32 activations). Only vdpbf16ps may round
  // an activation to the other BF16 neighbour there (0.041 measured, docs/kernels.md): the llama.cpp bound then.
  const float wholeVsChunks = maxAbsDiff(chunk1.data(), prompt.data(), prompt.size());
  const float selfBound = c.expertType == granite::GGMLType::BF16 && llamaArithmetic ? bound : 1e-4f;
  EXPECT_LE(wholeVsChunks, selfBound) << "expert_matvec (one token at a time) against the expert matmul (one call)";

  // Row k of the greedy logits is comparable while both paths fed the same ids; ids are compared while the
  // reference's top-two gap exceeds the bound (a smaller gap may flip legitimately).
  float stepDiff = 0;
  bool idsComparable = true;
  for (int k = 0; k < kGreedy; ++k) {
    if (k > 0 && ids[k - 1] != refIds[k - 1]) break;
    stepDiff = std::max(stepDiff, maxAbsDiff(&gen[k * vocab], &expectedGen[k * vocab], vocab));
    idsComparable = idsComparable && gaps[k] > bound;
    if (idsComparable) {
      EXPECT_EQ(ids[k], refIds[k]) << "greedy step " << k << " (reference gap " << gaps[k] << ")";
    }
  }
  EXPECT_LE(stepDiff, bound) << "greedy step logits";
  std::cout << c.dtype << " experts on " << granite::target::hostFamily().name
            << (llamaArithmetic ? " (llama.cpp's activation rounding)" : " (f32 activations)") << ": max |diff| prompt "
            << promptDiff << ", one token at a time " << chunkDiff << ", greedy steps " << stepDiff << " (bound "
            << bound << "); one call against one token at a time " << wholeVsChunks << "\n";
}

// The bounds (logits of these models have a std of about 3), measured on a 2-core AMD EPYC (Zen 5,
// x86-64-avx512-bf16): "a / b" is prompt / greedy steps, with llama.cpp's activation rounding (host) and with
// f32 activations (the same models compiled for x86-64-avx512, as on hosts without BF16 and VNNI).
// BF16 as llama.cpp: both sides round the activations to BF16 and sum exact products in f32; only the summation
// order differs, and that can round a later activation to the other BF16 neighbour (2^-8 relative), which moves
// the logits by a few 1e-2 (golden hybrid-bf16: 0.03 between llama.cpp's own batch and token-by-token runs).
// Measured 0.055 / 0.047 (prompt 0.037-0.055 over three prompts); bound 0.1.
// BF16 with f32 activations differs from llama.cpp by BF16's rounding of every activation: 0.075 / 0.45 (a decode
// step where an expert choice flipped); bound 0.6.
// Q8_0 as llama.cpp (quantizedDot): both sides quantize the activations per 32 (d = amax/127 as fp16) and the
// integer block dots are exact, so only the f32 sum over blocks differs (about 1e-6), until an activation quant
// rounds the other way: 0.0054 / 0.107, and prompt 0.125 and 0.166 on two other prompts. Bound 0.3, still well
// below the f32-activation arithmetic's distance from llama.cpp: 0.87 / 0.93, bound 1.5 on such hosts.
// Reading another expert's Q8_0 scales in expert_matvec moves the logits by 1.6 (tried; the self check: 1.6).
INSTANTIATE_TEST_SUITE_P(Experts, MoEExpertTypesTest,
                         testing::Values(ExpertCase{"bf16", granite::GGMLType::BF16, 0.1f, 0.6f},
                                         ExpertCase{"q8_0", granite::GGMLType::Q8_0, 0.3f, 1.5f}),
                         [](const testing::TestParamInfo<ExpertCase> &info) { return std::string(info.param.dtype); });

} // namespace
