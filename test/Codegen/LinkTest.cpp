// linkExecutable end to end: the fake model object (FakeModel.cpp), a generated weight blob and the golden GGUF's
// vocabulary become real executables, which run as child processes through the generated-executable CLI.
#include "Codegen/Link.h"
#include "Codegen/GGUFVocabulary.h"
#include "FakeReference.h"
#include "runtime/ChatTemplate.h"
#include "runtime/Payload.h"
#include "runtime/Tokenizer.h"
#include "runtime/Utf8.h"
#include "runtime/VocabularyBlob.h"
#include "runtime/VocabularyTrieBlob.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

namespace granite::codegen {
namespace {

using namespace granite::fake;
namespace fs = std::filesystem;

constexpr uint64_t kSmallTableOffset = 4096;        // FAKE_TABLE_OFFSET of the small variant
constexpr uint64_t kLargeTableOffset = 4294971392u; // and of the large one: 4 GiB + 4 KiB
const std::vector<int32_t> kPrompt = {5, 17, 300, 2, 511, 0, 42, 42, 128, 7, 99, 260};
const std::string kPromptText = "5,17,300,2,511,0,42,42,128,7,99,260";

struct ProcessResult {
  int status;
  std::string out, err;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<float> readFloats(const std::string &path) {
  std::string bytes = readFile(path);
  std::vector<float> floats(bytes.size() / sizeof(float));
  std::memcpy(floats.data(), bytes.data(), floats.size() * sizeof(float));
  return floats;
}

/// The ids the runtime's sampler never picks (type unused).
std::vector<bool> unusedIds(const runtime::Tokenizer &tokenizer) {
  std::vector<bool> unused(tokenizer.size());
  for (int32_t id = 0; id < tokenizer.size(); ++id) unused[id] = tokenizer.isUnused(id);
  return unused;
}

std::string quoted(const std::string &arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool isOneLine(const std::string &text) {
  return !text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1;
}

class LinkedExecutable : public ::testing::Test {
protected:
  /// One directory per process: ctest runs the cases of this suite in parallel processes.
  static std::string dir() { return GRANITE_TEST_WORK_DIR "/" + std::to_string(getpid()); }

  static void SetUpTestSuite() {
    fs::create_directories(dir());
    gguf::File gguf = gguf::File::open(std::string(GRANITE_GOLDEN_DIR) + "/models/dense-f32.gguf");
    vocabulary_ = new runtime::Vocabulary(vocabularyFromGGUF(gguf));
    trie_ = new std::vector<uint8_t>(
        runtime::serializeVocabularyTrie(runtime::VocabularyTrie(runtime::Tokenizer(*vocabulary_))));
    chatTemplate_ = new std::string(chatTemplateFromGGUF(gguf));
    for (bool external : {false, true}) {
      std::string error;
      ASSERT_TRUE(linkExecutable(smallInputs(path(external), external), error)) << error;
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(dir());
    delete vocabulary_;
    delete trie_;
    delete chatTemplate_;
  }

  static std::string path(bool external) { return dir() + (external ? "/fake-external" : "/fake-embedded"); }

  static LinkInputs inputs(const char *object, SectionWriter writer, const std::string &output, bool external) {
    LinkInputs in;
    in.objectFiles = {object};
    in.writeWeights = std::move(writer);
    in.vocabulary = runtime::serializeVocabulary(*vocabulary_);
    in.vocabularyTrie = *trie_;
    in.chatTemplate = *chatTemplate_;
    in.outputPath = output;
    in.weightsExternal = external;
    return in;
  }

  static LinkInputs smallInputs(const std::string &output, bool external) {
    return inputs(
        GRANITE_FAKE_MODEL_SMALL,
        [](std::ostream &out, std::string &) {
          std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
          out.write(reinterpret_cast<const char *>(blob.data()), static_cast<std::streamsize>(blob.size()));
          return true;
        },
        output, external);
  }

  static ProcessResult run(const std::string &executable, const std::vector<std::string> &args,
                           const std::string &input = "") {
    std::string command = quoted(executable);
    for (const std::string &arg : args) command += " " + quoted(arg);
    const std::string in = dir() + "/stdin", out = dir() + "/stdout", err = dir() + "/stderr";
    std::ofstream(in, std::ios::binary | std::ios::trunc) << input;
    int status = std::system((command + " <" + in + " >" + out + " 2>" + err).c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, readFile(out), readFile(err)};
  }

  static std::vector<std::string> leftovers() {
    std::vector<std::string> names;
    for (const auto &entry : fs::directory_iterator(dir()))
      if (entry.path().filename().string().find(".tmp") != std::string::npos) names.push_back(entry.path());
    return names;
  }

  static runtime::Vocabulary *vocabulary_;
  static std::vector<uint8_t> *trie_;
  static std::string *chatTemplate_;
};

runtime::Vocabulary *LinkedExecutable::vocabulary_ = nullptr;
std::vector<uint8_t> *LinkedExecutable::trie_ = nullptr;
std::string *LinkedExecutable::chatTemplate_ = nullptr;

TEST_F(LinkedExecutable, InfoDescribesTheCompiledModel) {
  ProcessResult info = run(path(false), {"--info", "--threads", "3"});
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_EQ(info.out, "variant: fake-test\n"
                      "target: test-cpu\n"
                      "context: 256 positions\n"
                      "vocabulary: 520 logits per token\n"
                      "batch: at most 8 tokens per forward call\n"
                      "weight types: U8 x1\n"
                      "weights: 8256 bytes in " +
                          path(false) +
                          " (embedded)\n"
                          "state: 65536 bytes, scratch: 32 bytes\n"
                          "chat template: " +
                          std::string(chatTemplate_->empty() ? "none" : "another") +
                          " (--chat renders Granite 4.0's)\n"
                          "build id: fake-build-small\n"
                          "threads: 3\n");
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(LinkedExecutable, PromptLogitsMatchTheReferenceForEveryChunkSize) {
  const std::vector<float> expected = referenceLogits(kPrompt);
  for (const char *chunk : {"", "1", "5", "12"}) {
    SCOPED_TRACE(chunk);
    const std::string logits = dir() + "/logits.f32";
    std::vector<std::string> args = {"--ids", kPromptText, "--logits", logits};
    if (*chunk) args.insert(args.end(), {"--chunk", chunk});
    ProcessResult ids = run(path(false), args);
    ASSERT_EQ(ids.status, 0) << ids.err;
    EXPECT_EQ(ids.out, "");
    EXPECT_EQ(readFloats(logits), expected);
  }
}

TEST_F(LinkedExecutable, GreedyDecodingIsLlamaCppsArgmaxWithoutPaddingRows) {
  // llama.cpp's greedy argmax, which the golden greedy ids come from, does not skip unused tokens; only the rows past
  // the tokenizer's vocabulary are out of reach.
  runtime::Tokenizer tokenizer(*vocabulary_);
  std::vector<float> chosenFrom;
  std::vector<int32_t> expected = referenceGreedy(kPrompt, 6, std::vector<bool>(kTokenizerSize), &chosenFrom);
  EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [&](int32_t id) { return tokenizer.isUnused(id); }))
      << "the fake model's greedy path should pass an unused token";
  std::ostringstream line;
  for (size_t i = 0; i < expected.size(); ++i) line << (i ? " " : "") << expected[i];
  const std::string genLogits = dir() + "/gen-logits.f32";
  for (const char *chunk : {"3", "8"}) {
    ProcessResult greedy =
        run(path(false), {"--ids", kPromptText, "--greedy", "6", "--gen-logits", genLogits, "--chunk", chunk});
    ASSERT_EQ(greedy.status, 0) << greedy.err;
    EXPECT_EQ(greedy.out, line.str() + "\n");
    EXPECT_EQ(readFloats(genLogits), chosenFrom);
  }
  // The padding rows hold the largest logits, so an unmasked argmax would have picked them.
  EXPECT_EQ(chosenFrom[kTokenizerSize], kPaddingLogit);
}

TEST_F(LinkedExecutable, ExternalWeightsLiveBesideTheExecutable) {
  const std::string weights = path(true) + ".weights";
  ASSERT_EQ(fs::file_size(weights), weightsBytes(kSmallTableOffset));
  EXPECT_LT(fs::file_size(path(true)), fs::file_size(path(false)));
  const std::string logits = dir() + "/external-logits.f32";
  ProcessResult ids = run(path(true), {"--ids", kPromptText, "--logits", logits});
  ASSERT_EQ(ids.status, 0) << ids.err;
  EXPECT_EQ(readFloats(logits), referenceLogits(kPrompt));
  EXPECT_NE(run(path(true), {"--info"}).out.find("bytes in " + weights + " (external)\n"), std::string::npos);

  const std::string moved = weights + ".moved";
  fs::rename(weights, moved);
  ProcessResult missing = run(path(true), {"--ids", "1"});
  fs::rename(moved, weights);
  EXPECT_EQ(missing.status, 1);
  EXPECT_TRUE(isOneLine(missing.err)) << missing.err;
  EXPECT_NE(missing.err.find("cannot open weight file '" + weights + "'"), std::string::npos) << missing.err;
}

TEST_F(LinkedExecutable, TokenizerComesFromTheEmbeddedVocabulary) {
  runtime::Tokenizer tokenizer(*vocabulary_);
  const std::string text = "Hello, world! 中文 🙂";
  std::vector<int32_t> ids = tokenizer.encode(text, false);
  std::string spaced, commas;
  for (size_t i = 0; i < ids.size(); ++i) {
    spaced += (i ? " " : "") + std::to_string(ids[i]);
    commas += (i ? "," : "") + std::to_string(ids[i]);
  }
  ProcessResult tokenize = run(path(false), {"--tokenize", text});
  ASSERT_EQ(tokenize.status, 0) << tokenize.err;
  EXPECT_EQ(tokenize.out, spaced + "\n");
  ProcessResult detokenize = run(path(false), {"--detokenize", commas});
  ASSERT_EQ(detokenize.status, 0) << detokenize.err;
  EXPECT_EQ(detokenize.out, text);
}

TEST_F(LinkedExecutable, CompletionRunsTheCompiledModelThroughTheRuntimeCli) {
  runtime::Tokenizer tokenizer(*vocabulary_);
  std::vector<int32_t> continuation =
      referenceGreedy(tokenizer.encode("Hello", false), 5, unusedIds(tokenizer), nullptr);
  for (size_t i = 0; i < continuation.size(); ++i)
    if (tokenizer.isEndOfGeneration(continuation[i])) continuation.resize(i);
  ProcessResult completion = run(path(false), {"-p", "Hello", "-n", "5", "--threads", "2"});
  ASSERT_EQ(completion.status, 0) << completion.err;
  // Printed text is valid UTF-8: bytes of the random model's tokens that form no character become U+FFFD.
  EXPECT_EQ(completion.out, runtime::toValidUtf8(tokenizer.decode(continuation, false)) + "\n");
}

TEST_F(LinkedExecutable, ChatCarriesTheModelStateAcrossTurns) {
  // Each reply must be the greedy continuation of its turn's whole rendered conversation, however the runtime
  // feeds it (extending the held positions, or resetting and feeding again).
  runtime::Tokenizer tokenizer(*vocabulary_);
  const int32_t startOfRole = tokenizer.findAddedToken("<|start_of_role|>");
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::string expected;
  for (const char *turn : {"hello", "and again"}) {
    messages.push_back({{"role", "user"}, {"content", turn}});
    runtime::RenderedChat rendered = runtime::renderGraniteChat(messages, {}, {}, true);
    std::vector<int32_t> reply = referenceGreedy(tokenizer.encodeTemplate(rendered.text, rendered.literalSpans), 3,
                                                 unusedIds(tokenizer), nullptr);
    for (size_t i = 0; i < reply.size(); ++i)
      if (tokenizer.isEndOfGeneration(reply[i]) || reply[i] == startOfRole) reply.resize(i);
    // The reply as printed, and as it goes into the history: valid UTF-8.
    std::string text = runtime::toValidUtf8(tokenizer.decode(reply, false));
    expected += text + "\n";
    messages.push_back({{"role", "assistant"}, {"content", text}});
  }
  ProcessResult chat = run(path(false), {"--chat", "-n", "3"}, "hello\nand again\n");
  ASSERT_EQ(chat.status, 0) << chat.err;
  EXPECT_EQ(chat.out, expected);
}

TEST_F(LinkedExecutable, BadCommandLinesExitTwoWithOneLine) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{{"--frobnicate"},
                                                                             {"--greedy", "3"},
                                                                             {"--ids", "1,x"},
                                                                             {"--ids", "1", "--greedy", "0"},
                                                                             {"--ids", "520"},
                                                                             {"--ids", kPromptText, "--greedy", "250"},
                                                                             {"--ids", "1", "--tokenize", "a"}}) {
    SCOPED_TRACE(args[0] + " " + (args.size() > 1 ? args[1] : ""));
    ProcessResult bad = run(path(false), args);
    EXPECT_EQ(bad.status, 2);
    EXPECT_TRUE(isOneLine(bad.err)) << bad.err;
    EXPECT_EQ(bad.out, "");
  }
  EXPECT_EQ(run(path(false), {"--frobnicate"}).err, path(false) + ": unknown option '--frobnicate' (see --help)\n");
  ProcessResult help = run(path(false), {"--help"});
  EXPECT_EQ(help.status, 0);
  for (const char *flag :
       {"--ids", "--logits", "--greedy", "--gen-logits", "--chunk", "--bench", "--threads", "--info"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

TEST_F(LinkedExecutable, VersionAndContextSizeComeFromTheCompiledModel) {
  ProcessResult version = run(path(false), {"--version"});
  ASSERT_EQ(version.status, 0) << version.err;
  EXPECT_EQ(version.out, "build id: fake-build-small\ntarget: test-cpu\ncpu features: \n");
  // No weights are read: it answers even when the external weights file is gone.
  const std::string moved = path(true) + ".weights-moved";
  fs::rename(path(true) + ".weights", moved);
  EXPECT_EQ(run(path(true), {"--version"}).out, version.out);
  fs::rename(moved, path(true) + ".weights");

  ProcessResult tooLarge = run(path(false), {"-c", "300", "-p", "Hello"});
  EXPECT_EQ(tooLarge.status, 2);
  EXPECT_EQ(tooLarge.err, path(false) + ": -c 300 is more than the compiled context of 256 positions\n");
  EXPECT_EQ(tooLarge.out, "");
  // -c shrinks what the model holds: --bench's default sizes follow it, and --ids must fit it.
  ProcessResult bench = run(path(false), {"--bench", "--ctx-size=64"});
  ASSERT_EQ(bench.status, 0) << bench.err;
  EXPECT_EQ(bench.out.rfind("prefill: 48 tokens in ", 0), 0u) << bench.out;
  EXPECT_NE(bench.out.find("decode: 16 tokens in "), std::string::npos) << bench.out;
  EXPECT_EQ(run(path(false), {"-c", "12", "--ids", kPromptText}).status, 0);
  ProcessResult idsTooLong = run(path(false), {"-c", "8", "--ids", kPromptText});
  EXPECT_EQ(idsTooLong.status, 2);
  EXPECT_EQ(idsTooLong.err, path(false) + ": --ids needs 12 positions, the context holds 8\n");
}

TEST_F(LinkedExecutable, BenchReportsPrefillAndDecodeSpeed) {
  ProcessResult bench = run(path(false), {"--bench", "--bench-prompt", "20", "--bench-gen", "10", "--chunk", "3"});
  ASSERT_EQ(bench.status, 0) << bench.err;
  EXPECT_EQ(bench.out.rfind("prefill: 20 tokens in ", 0), 0u) << bench.out;
  EXPECT_NE(bench.out.find(" tokens/s\ndecode: 10 tokens in "), std::string::npos) << bench.out;
  // The default sizes (512 + 128) shrink to the fake model's 256 positions.
  bench = run(path(false), {"--bench"});
  ASSERT_EQ(bench.status, 0) << bench.err;
  EXPECT_EQ(bench.out.rfind("prefill: 192 tokens in ", 0), 0u) << bench.out;
  EXPECT_NE(bench.out.find("decode: 64 tokens in "), std::string::npos) << bench.out;
  EXPECT_EQ(run(path(false), {"--bench", "--bench-prompt", "250", "--bench-gen", "10"}).status, 2);
}

TEST_F(LinkedExecutable, DamagedPayloadsExitOneWithOneLine) {
  const std::string good = readFile(path(false));
  const std::string damaged = dir() + "/damaged";
  auto expectRefused = [&](const std::string &bytes, const std::string &message) {
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
    fs::permissions(damaged, fs::perms::owner_all);
    ProcessResult result = LinkedExecutable::run(damaged, {"--ids", "1"});
    EXPECT_EQ(result.status, 1);
    EXPECT_TRUE(isOneLine(result.err)) << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  };
  uint64_t at = 0, trieAt = 0;
  for (const runtime::PayloadEntry &entry : runtime::decodePayloadTrailer(
           reinterpret_cast<const uint8_t *>(good.data()) + good.size() - runtime::kTrailerBytes, good.size())) {
    if (entry.kind == runtime::PayloadSection::Vocabulary) at = entry.offset;
    if (entry.kind == runtime::PayloadSection::VocabularyTrie) trieAt = entry.offset;
  }
  ASSERT_EQ(good.substr(at, 4), "GRTK");
  ASSERT_EQ(good.substr(trieAt, 4), "GRTR");

  expectRefused(good.substr(0, at + 1000), "no model payload at the end of the executable");
  std::string flipped = good;
  flipped[flipped.size() - 200] ^= 0x40; // inside the section table
  expectRefused(flipped, "the payload trailer is damaged");
  std::string vocabulary = good;
  vocabulary[at + 4] = 9; // the blob's version
  expectRefused(vocabulary, "vocabulary");

  // The trie is read on the first structured reply: a damaged one fails that reply, in one line.
  const std::string schema = dir() + "/schema.json";
  std::ofstream(schema) << R"({"type": "boolean"})";
  ASSERT_EQ(run(path(false), {"-p", "1", "-n", "4", "--json-schema", schema}).status, 0);
  std::string trie = good;
  trie[trieAt + 4] = 9;
  std::ofstream(damaged, std::ios::binary | std::ios::trunc) << trie;
  fs::permissions(damaged, fs::perms::owner_all);
  ProcessResult result = run(damaged, {"-p", "1", "-n", "4", "--json-schema", schema});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, damaged + ": error: vocabulary trie blob has version 9, this runtime reads 1\n");
  std::remove(damaged.c_str());
}

TEST_F(LinkedExecutable, LinkFailuresAreOneLineAndLeaveNoFiles) {
  const std::string output = dir() + "/never-linked";
  std::string error;
  LinkInputs noModel = smallInputs(output, false);
  noModel.objectFiles.clear();
  EXPECT_FALSE(linkExecutable(noModel, error));
  EXPECT_NE(error.find("undefined reference to `granite_"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;

  EXPECT_FALSE(linkExecutable(smallInputs(dir() + "/no-such-dir/out", false), error));
  EXPECT_EQ(error, "cannot write '" + dir() + "/no-such-dir/out': No such file or directory");
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;

  LinkInputs otherArchitecture = smallInputs(output, false);
  otherArchitecture.targetTriple = "riscv64-unknown-linux-gnu";
  EXPECT_FALSE(linkExecutable(otherArchitecture, error));
  EXPECT_EQ(error.rfind("no toolchain links code for 'riscv64-unknown-linux-gnu' on this ", 0), 0u) << error;

  LinkInputs failingWriter = smallInputs(output, true);
  failingWriter.writeWeights = [](std::ostream &, std::string &writerError) {
    writerError = "blk.0.attn_q.weight: read error";
    return false;
  };
  EXPECT_FALSE(linkExecutable(failingWriter, error));
  EXPECT_EQ(error, "cannot write the weight blob: blk.0.attn_q.weight: read error");
  EXPECT_FALSE(fs::exists(output));
  EXPECT_FALSE(fs::exists(output + ".weights"));
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(LinkedExecutable, RefusesACpuWithoutTheModelsFeaturesInOneLine) {
  const std::string output = dir() + "/fake-needy";
  LinkInputs needy = smallInputs(output, false);
  needy.objectFiles = {GRANITE_FAKE_MODEL_NEEDY};
  std::string error;
  ASSERT_TRUE(linkExecutable(needy, error)) << error;
  // Every mode that runs the model's code is refused, --info included; the first other target this CPU runs is named.
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--ids", "1,2"}, {"--info"}, {"-p", "Hello"}, {"--tokenize", "a"}}) {
    SCOPED_TRACE(args[0]);
    ProcessResult refused = run(output, args);
    EXPECT_EQ(refused.status, 1);
    EXPECT_EQ(refused.err, output + ": error: this CPU lacks granite-test-feature, which test-cpu needs; compile with "
                                    "--target runnable-test (or --target host on this machine)\n");
    EXPECT_EQ(refused.out, "");
  }
  // --version and --help run none of it.
  ProcessResult version = run(output, {"--version"});
  EXPECT_EQ(version.status, 0) << version.err;
  EXPECT_EQ(version.out, "build id: fake-build-needy\ntarget: test-cpu\ncpu features: granite-test-feature\n");
  EXPECT_EQ(run(output, {"--help"}).status, 0);
  std::remove(output.c_str());
}

/// `readelf OPTION FILE`'s output.
std::string readelf(const std::string &option, const std::string &file) {
  std::string output;
  FILE *pipe = popen(("readelf " + option + " " + quoted(file) + " 2>&1").c_str(), "r");
  if (!pipe) return output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  pclose(pipe);
  return output;
}

TEST_F(LinkedExecutable, NeedsNothingButGlibc2_34) {
  // libstdc++ and libgcc are linked in, so only glibc's own libraries and the loader remain.
  const std::string dynamic = readelf("-dW", path(false));
  ASSERT_NE(dynamic.find("(NEEDED)"), std::string::npos) << dynamic;
  const std::vector<std::string> allowed = {
      "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"};
  std::istringstream lines(dynamic);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    const size_t open = line.find('['), close = line.find(']');
    ASSERT_NE(close, std::string::npos) << line;
    const std::string library = line.substr(open + 1, close - open - 1);
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), library), allowed.end()) << library;
  }
  // Every symbol version it asks for is glibc's, and none is newer than 2.34.
  const std::string versions = readelf("-VW", path(false));
  ASSERT_NE(versions.find("GLIBC_2."), std::string::npos) << versions;
  std::istringstream words(versions);
  for (std::string word; words >> word;) {
    for (const char *foreign : {"GLIBCXX_", "CXXABI_", "GCC_"})
      EXPECT_EQ(word.find(foreign), std::string::npos) << word;
    if (word.rfind("GLIBC_2.", 0) != 0) continue;
    int minor = std::atoi(word.c_str() + 8);
    EXPECT_LE(minor, 34) << word;
  }
}

/// True when the file system at `dir` stores a file with a 64 MiB hole in far fewer blocks.
bool fileSystemMakesHoles(const std::string &dir) {
  const std::string probe = dir + "/hole-probe";
  {
    std::ofstream out(probe, std::ios::binary | std::ios::trunc);
    out.seekp(64 << 20);
    out.put('x');
  }
  struct stat info{};
  bool holes = stat(probe.c_str(), &info) == 0 && static_cast<uint64_t>(info.st_blocks) * 512 < (1u << 20);
  std::remove(probe.c_str());
  return holes;
}

TEST_F(LinkedExecutable, PayloadAbove4GiBIsMappedAndReadBeyond4GiB) {
  struct statvfs disk{};
  ASSERT_EQ(statvfs(dir().c_str(), &disk), 0);
  if (static_cast<uint64_t>(disk.f_bavail) * disk.f_frsize < (256u << 20))
    GTEST_SKIP() << "less than 256 MiB free in " << dir() << " for the sparse 4 GiB executable";
  if (!fileSystemMakesHoles(dir()))
    GTEST_SKIP() << "the file system at " << dir() << " does not store holes, and 4 GiB must not be written";

  const std::string output = dir() + "/fake-large";
  LinkInputs large = inputs(
      GRANITE_FAKE_MODEL_LARGE,
      [](std::ostream &out, std::string &) {
        std::streamoff start = out.tellp();
        out.write("blob start", 10);
        out.seekp(start + static_cast<std::streamoff>(kLargeTableOffset)); // leaves a hole of 4 GiB
        std::vector<uint8_t> table = referenceTable();
        out.write(reinterpret_cast<const char *>(table.data()), static_cast<std::streamsize>(table.size()));
        out.write(std::string(kTailBytes, '\xA5').data(), kTailBytes);
        return true;
      },
      output, false);
  std::string error;
  ASSERT_TRUE(linkExecutable(large, error)) << error;
  struct stat info{};
  ASSERT_EQ(stat(output.c_str(), &info), 0);
  EXPECT_GT(static_cast<uint64_t>(info.st_size), weightsBytes(kLargeTableOffset));
  EXPECT_LT(static_cast<uint64_t>(info.st_blocks) * 512, 64u << 20) << "the executable is not sparse";

  const std::string logits = dir() + "/large-logits.f32";
  ProcessResult ids = run(output, {"--ids", kPromptText, "--logits", logits});
  std::remove(output.c_str());
  ASSERT_EQ(ids.status, 0) << ids.err;
  EXPECT_EQ(readFloats(logits), referenceLogits(kPrompt));
}

} // namespace
} // namespace granite::codegen
