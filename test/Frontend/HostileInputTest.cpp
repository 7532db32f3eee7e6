// Hostile and broken model files, generated here from the golden models (no binary blobs are checked in).
// This binary and the reader it links are built with ASan + UBSan; every case is run twice: parsed in-process
// (must throw FormatError) and through `granitec inspect` (must exit 1 with exactly one line on stderr naming the
// problem, within a time limit — never a crash, a sanitizer report or a hang).
#include "Frontend/GGUF.h"
#include "Frontend/GGUFWriter.h"
#include "Frontend/GraniteConfig.h"
#include "GoldenModels.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/wait.h>

using namespace granite;
using namespace granite::testing;
namespace fs = std::filesystem;

namespace {

std::string goldenBytes(const std::string &model) {
  std::ifstream in(goldenModel(model), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <typename T> void poke(std::string &bytes, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), bytes.size());
  std::memcpy(&bytes[offset], &value, sizeof(T));
}

/// In-process: parse + config + tensor validation must throw FormatError whose message contains `expected`.
std::string inProcessError(const std::string &bytes) {
  try {
    gguf::File f = gguf::File::parse(MappedFile::fromBytes(std::vector<uint8_t>(bytes.begin(), bytes.end()), "x"));
    loadGraniteConfig(f);
  } catch (const gguf::FormatError &e) {
    return e.what();
  }
  return "<accepted>";
}

struct ToolResult {
  int exitCode = -1;
  std::string out, err;
};

std::string slurp(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class HostileFiles : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("granite-hostile-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string &bytes, const std::string &name) {
    const fs::path file = dir_ / (name + ".gguf");
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }

  /// Runs `command` (a tool and its arguments, quoted) with a time limit, capturing stdout and stderr.
  ToolResult run(const std::string &command, const std::string &name) {
    const fs::path out = dir_ / (name + ".out"), err = dir_ / (name + ".err");
    const std::string cmd = "timeout 60 " + command + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    ToolResult r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  /// `granitec inspect` built with ASan and UBSan.
  ToolResult inspect(const std::string &bytes, const std::string &name) {
    const fs::path file = write(bytes, name);
    return run("'" + std::string(GRANITE_BIN_DIR) + "/granitec-inspect-sanitized' '" + file.string() + "'", name);
  }

  /// `granitec compile FILE -o OUT`: must fail before writing OUT.
  ToolResult compile(const std::string &bytes, const std::string &name) {
    const fs::path file = write(bytes, name), executable = dir_ / (name + ".exe");
    ToolResult r = run("'" + std::string(GRANITE_BIN_DIR) + "/granitec' compile '" + file.string() + "' -o '" +
                           executable.string() + "'",
                       name + ".compile");
    EXPECT_FALSE(fs::exists(executable)) << name << ": compile left an output behind";
    return r;
  }

  /// The three checks of one hostile file: the reader's message is exactly `expected`, and inspect and compile
  /// each print exactly that in one line naming the file and exit with status 1.
  void expectRejected(const std::string &bytes, const std::string &name, const std::string &expected) {
    SCOPED_TRACE(name);
    EXPECT_EQ(inProcessError(bytes), expected);
    const std::string line = "granitec: error: " + (dir_ / (name + ".gguf")).string() + ": " + expected + "\n";
    for (const ToolResult &r : {inspect(bytes, name), compile(bytes, name)}) {
      EXPECT_EQ(r.exitCode, 1) << r.err; // 124 = hang, sanitizer aborts give other codes
      EXPECT_EQ(r.err, line);
      EXPECT_TRUE(r.out.empty()) << r.out;
    }
  }

  fs::path dir_;
};

gguf::File parseGolden(const std::string &model) { return gguf::File::open(goldenModel(model)); }

std::string written(const gguf::Writer &w) {
  std::ostringstream out;
  w.write(out);
  return out.str();
}

TEST_F(HostileFiles, TruncationAnywhereIsReported) {
  const std::string whole = goldenBytes("hybrid-q8_0");
  const gguf::File f = parseGolden("hybrid-q8_0");
  // Cut points across the header, metadata, tensor infos, the padding before the data and the data itself.
  std::vector<size_t> cuts;
  for (size_t i = 0; i < 40; ++i) cuts.push_back(i);
  for (size_t i = 40; i < f.dataOffset(); i += 61) cuts.push_back(i);
  cuts.push_back(f.dataOffset() - 1);
  cuts.push_back(f.dataOffset());
  for (size_t i = 1; i <= 40; ++i) cuts.push_back(f.dataOffset() + (whole.size() - f.dataOffset()) * i / 41);
  cuts.push_back(whole.size() - 1);
  size_t viaTool = 0;
  for (size_t k = 0; k < cuts.size(); ++k) {
    const std::string bytes = whole.substr(0, cuts[k]);
    const std::string message = inProcessError(bytes);
    EXPECT_TRUE(message.find("truncated") != std::string::npos || message.find("past the end") != std::string::npos ||
                message.find("more than") != std::string::npos)
        << "cut at " << cuts[k] << ": " << message;
    if (k % 8 == 0) { // every 8th cut also through the command-line tools
      const std::string name = "cut" + std::to_string(cuts[k]);
      for (const ToolResult &r : {inspect(bytes, name), compile(bytes, name)}) {
        EXPECT_EQ(r.exitCode, 1) << "cut at " << cuts[k] << ": " << r.err;
        EXPECT_EQ(r.err, "granitec: error: " + (dir_ / (name + ".gguf")).string() + ": " + message + "\n");
      }
      ++viaTool;
    }
  }
  EXPECT_GT(cuts.size(), 100u);
  EXPECT_GT(viaTool, 10u);
}

TEST_F(HostileFiles, EmptyFile) {
  expectRejected("", "empty", "truncated file: the GGUF magic needs 4 bytes at offset 0, but the file ends at 0");
}

TEST_F(HostileFiles, BadMagic) {
  std::string b = goldenBytes("dense-q8_0");
  b[0] = 'F';
  expectRejected(b, "magic", "not a GGUF file: magic bytes are 46 47 55 46, expected 47 47 55 46 (\"GGUF\")");
}

TEST_F(HostileFiles, Versions1And4) {
  std::string b = goldenBytes("dense-q8_0");
  poke<uint32_t>(b, 4, 1);
  expectRejected(b, "v1", "unsupported GGUF version 1 (granitec reads versions 2 and 3)");
  poke<uint32_t>(b, 4, 4);
  expectRejected(b, "v4", "unsupported GGUF version 4 (granitec reads versions 2 and 3)");
}

TEST_F(HostileFiles, HugeCounts) {
  std::string b = goldenBytes("dense-q8_0");
  poke<uint64_t>(b, 8, uint64_t(1) << 60);
  const std::string size = std::to_string(b.size());
  expectRejected(b, "tensors2e60",
                 "tensor count 1152921504606846976 is more than a file of " + size + " bytes can hold");
  b = goldenBytes("dense-q8_0");
  poke<uint64_t>(b, 16, ~uint64_t(0));
  expectRejected(b, "kv-max", "metadata count 18446744073709551615 is more than a file of " + size + " bytes can hold");
}

TEST_F(HostileFiles, StringLengthPastEndOfFile) {
  std::string b = goldenBytes("dense-q8_0");
  poke<uint64_t>(b, 24, uint64_t(1) << 40); // length of the first metadata key
  expectRejected(b, "strlen",
                 "the key of metadata entry 0 has length 1099511627776 at offset 24, past the end of the file (" +
                     std::to_string(b.size()) + " bytes)");
}

TEST_F(HostileFiles, ArrayCountPastEndOfFile) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  auto a = std::make_unique<gguf::ArrayValue>();
  a->elementType = gguf::ValueType::U64;
  w.metadata().insert(w.metadata().begin(), {"big.array", gguf::Value::makeArray(std::move(a))});
  std::string b = written(w);
  // The new array is the first entry: key length (8) + key (9) + type (4) + element type (4) -> count at 49.
  poke<uint64_t>(b, 24 + 8 + 9 + 4 + 4, uint64_t(1) << 59);
  // The elements would start after the count, at 57.
  expectRejected(b, "arraycount",
                 "metadata key 'big.array' claims 576460752303423488 array elements of type u64, more than the " +
                     std::to_string(b.size() - 57) + " bytes left in the file can hold");
}

TEST_F(HostileFiles, DeeplyNestedArrays) {
  // 10,000 nested arrays: a recursive reader without a depth limit would exhaust the stack.
  std::string b = goldenBytes("dense-q8_0");
  std::string bomb;
  const std::string key = "nest";
  uint64_t len = key.size();
  bomb.append(reinterpret_cast<const char *>(&len), 8).append(key);
  uint32_t arrayType = 9;
  bomb.append(reinterpret_cast<const char *>(&arrayType), 4);
  for (int i = 0; i < 10000; ++i) {
    uint64_t one = 1;
    bomb.append(reinterpret_cast<const char *>(&arrayType), 4).append(reinterpret_cast<const char *>(&one), 8);
  }
  b.insert(24, bomb);
  uint64_t kv;
  std::memcpy(&kv, &b[16], 8);
  poke<uint64_t>(b, 16, kv + 1);
  expectRejected(b, "nest", "metadata key 'nest' nests arrays more than 8 deep");
}

TEST_F(HostileFiles, UnknownValueTypeAndBadBool) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  w.metadata().insert(w.metadata().begin(), {"flag", gguf::Value::makeBool(true)});
  std::string b = written(w);
  const size_t valueAt = 24 + 8 + 4 + 4;
  b[valueAt] = 7;
  expectRejected(b, "bool", "metadata key 'flag' holds bool byte 7, expected 0 or 1");
  b[valueAt] = 1;
  poke<uint32_t>(b, 24 + 8 + 4, 13);
  expectRejected(b, "valuetype", "metadata key 'flag' has unknown value type 13");
}

TEST_F(HostileFiles, BadAlignment) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  w.addU32("general.alignment", 48);
  expectRejected(written(w), "align48", "general.alignment must be a u32 power of two");
}

TEST_F(HostileFiles, DuplicateNames) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  w.tensors().push_back(w.tensors().front());
  expectRejected(written(w), "duptensor", "duplicate tensor name '" + w.tensors().front().name + "'");
  gguf::Writer k = gguf::copyOf(f);
  k.metadata().push_back(k.metadata().front());
  expectRejected(written(k), "dupkey", "duplicate metadata key 'general.architecture'");
}

TEST_F(HostileFiles, TensorOffsets) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer past = gguf::copyOf(f);
  past.tensors().back().offsetOverride = uint64_t(1) << 40;
  const std::string end = " extends past the end of the file (" + std::to_string(written(past).size()) + " bytes)";
  expectRejected(written(past), "offsetpast",
                 "tensor 'blk.1.ffn_up.weight' (139264 bytes at data offset 1099511627776)" + end);
  gguf::Writer wrapping = gguf::copyOf(f);
  wrapping.tensors().back().offsetOverride = ~uint64_t(31); // aligned, and start + offset overflows
  expectRejected(written(wrapping), "offsetwrap",
                 "tensor 'blk.1.ffn_up.weight' (139264 bytes at data offset 18446744073709551584)" + end);
  gguf::Writer misaligned = gguf::copyOf(f);
  misaligned.tensors().back().offsetOverride = 16;
  expectRejected(written(misaligned), "misaligned",
                 "tensor 'blk.1.ffn_up.weight' has data offset 16, not a multiple of the alignment 32");
  gguf::Writer overlap = gguf::copyOf(f);
  overlap.tensors()[1].offsetOverride = 0;
  expectRejected(written(overlap), "overlap",
                 "tensors 'token_embd.weight' and 'output_norm.weight' overlap in the data section");
}

TEST_F(HostileFiles, DimensionsProductOverflow) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  w.tensors().back().ne = {uint64_t(1) << 32, uint64_t(1) << 32, 16};
  expectRejected(written(w), "dims", "tensor 'blk.1.ffn_up.weight': the product of its dimensions overflows");
  gguf::Writer many = gguf::copyOf(f);
  many.tensors().back().ne = {1, 1, 1, 1, 1};
  expectRejected(written(many), "ndims", "tensor 'blk.1.ffn_up.weight' has 5 dimensions (1 to 4 allowed)");
}

TEST_F(HostileFiles, UnknownTensorType) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  w.tensors().back().type = 99;
  expectRejected(written(w), "type99", "tensor 'blk.1.ffn_up.weight' has unknown or unsupported tensor type 99");
}

TEST_F(HostileFiles, WrongArchitecture) {
  gguf::File f = parseGolden("dense-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  static const std::string llama = "llama";
  w.metadata().front().second = gguf::Value::makeString(llama);
  expectRejected(written(w), "llama",
                 "architecture 'llama' is not a Granite 4.0 model (granitec compiles granite, granitehybrid and "
                 "granitemoe)");
}

TEST_F(HostileFiles, MissingRequiredTensor) {
  gguf::File f = parseGolden("hybrid-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  auto &t = w.tensors();
  t.erase(std::find_if(t.begin(), t.end(), [](const auto &x) { return x.name == "blk.1.attn_k.weight"; }));
  expectRejected(written(w), "missing", "missing tensor 'blk.1.attn_k.weight' (expected shape [256, 64])");
}

TEST_F(HostileFiles, WrongShape) {
  gguf::File f = parseGolden("hybrid-q8_0");
  gguf::Writer w = gguf::copyOf(f);
  for (auto &t : w.tensors())
    if (t.name == "blk.0.ssm_conv1d.weight") t.ne = {640, 4}; // transposed
  expectRejected(written(w), "shape", "tensor 'blk.0.ssm_conv1d.weight' has shape [640, 4], expected [4, 640]");
}

} // namespace
