#include "Frontend/GGUF.h"
#include "Frontend/GGUFWriter.h"
#include "GoldenModels.h"

#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

using namespace granite;
using namespace granite::testing;

namespace {

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class GoldenFile : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenFile, ParsesWithTensorsInsideTheFile) {
  gguf::File f = gguf::File::open(goldenModel(GetParam()));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.dataOffset() % 32, 0u);
  ASSERT_FALSE(f.tensors().empty());
  for (const auto &t : f.tensors()) {
    EXPECT_GE(t.data, reinterpret_cast<const uint8_t *>(0) + 1);
    EXPECT_LE(f.dataOffset() + t.offset + t.byteSize, f.fileSize()) << t.name;
    EXPECT_EQ(f.findTensor(t.name), &t);
  }
  ASSERT_NE(f.find("general.architecture"), nullptr);
  const gguf::Value *tokens = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_TRUE(tokens->isArray());
  EXPECT_EQ(tokens->asArray()->elementType, gguf::ValueType::String);
  EXPECT_EQ(tokens->asArray()->elements.size(), 512u);
  // Ids 0..255 are GPT-2's byte-level characters: id 0 is "!".
  EXPECT_EQ(*tokens->asArray()->elements[0].asString(), "!");
}

TEST_P(GoldenFile, WriterRoundTripsByteForByte) {
  const std::string path = goldenModel(GetParam());
  gguf::File f = gguf::File::open(path);
  std::ostringstream out;
  gguf::copyOf(f).write(out);
  EXPECT_TRUE(out.str() == readAll(path)) << "rewritten file differs from " << path;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenFile, ::testing::ValuesIn(goldenModelNames()));

gguf::File parseBytes(const std::string &bytes) {
  return gguf::File::parse(MappedFile::fromBytes(std::vector<uint8_t>(bytes.begin(), bytes.end()), "memory"));
}

TEST(GGUFReader, ReadsEveryValueTypeIncludingNestedArrays) {
  gguf::Writer w;
  w.add("u8", gguf::Value::makeUnsigned(gguf::ValueType::U8, 200));
  w.add("i8", gguf::Value::makeSigned(gguf::ValueType::I8, -100));
  w.add("u16", gguf::Value::makeUnsigned(gguf::ValueType::U16, 60000));
  w.add("i16", gguf::Value::makeSigned(gguf::ValueType::I16, -30000));
  w.add("u32", gguf::Value::makeUnsigned(gguf::ValueType::U32, 4000000000u));
  w.add("i32", gguf::Value::makeSigned(gguf::ValueType::I32, -2000000000));
  w.add("u64", gguf::Value::makeUnsigned(gguf::ValueType::U64, 1ull << 63));
  w.add("i64", gguf::Value::makeSigned(gguf::ValueType::I64, -(1ll << 62)));
  w.add("f32", gguf::Value::makeFloat(gguf::ValueType::F32, 0.25));
  w.add("f64", gguf::Value::makeFloat(gguf::ValueType::F64, 1e300));
  w.addBool("bool", true);
  w.addString("string", "héllo");
  auto strings = std::make_unique<gguf::ArrayValue>();
  strings->elementType = gguf::ValueType::String;
  static const std::string a = "a b", b = "ĠĠ ĠĠ";
  strings->elements = {gguf::Value::makeString(a), gguf::Value::makeString(b)};
  w.add("strings", gguf::Value::makeArray(std::move(strings)));
  auto inner = std::make_unique<gguf::ArrayValue>();
  inner->elementType = gguf::ValueType::I32;
  inner->elements = {gguf::Value::makeSigned(gguf::ValueType::I32, 7)};
  auto outer = std::make_unique<gguf::ArrayValue>();
  outer->elementType = gguf::ValueType::Array;
  outer->elements.push_back(gguf::Value::makeArray(std::move(inner)));
  w.add("nested", gguf::Value::makeArray(std::move(outer)));
  std::ostringstream out;
  w.write(out);

  for (uint32_t version : {2u, 3u}) {
    std::string bytes = out.str();
    bytes[4] = static_cast<char>(version);
    gguf::File f = parseBytes(bytes);
    EXPECT_EQ(*f.find("u8")->asUnsigned(), 200u);
    EXPECT_EQ(*f.find("i8")->asSigned(), -100);
    EXPECT_EQ(*f.find("u16")->asUnsigned(), 60000u);
    EXPECT_EQ(*f.find("i16")->asSigned(), -30000);
    EXPECT_EQ(*f.find("u32")->asUnsigned(), 4000000000u);
    EXPECT_EQ(*f.find("i32")->asSigned(), -2000000000);
    EXPECT_EQ(*f.find("u64")->asUnsigned(), 1ull << 63);
    EXPECT_FALSE(f.find("u64")->asSigned().has_value()); // does not fit
    EXPECT_EQ(*f.find("i64")->asSigned(), -(1ll << 62));
    EXPECT_FALSE(f.find("i8")->asUnsigned().has_value()); // negative
    EXPECT_EQ(*f.find("f32")->asFloat(), 0.25);
    EXPECT_EQ(*f.find("f64")->asFloat(), 1e300);
    EXPECT_EQ(*f.find("bool")->asBool(), true);
    EXPECT_EQ(*f.find("string")->asString(), "héllo");
    EXPECT_EQ(*f.find("strings")->asArray()->elements[1].asString(), "ĠĠ ĠĠ");
    const gguf::ArrayValue *nested = f.find("nested")->asArray();
    ASSERT_EQ(nested->elementType, gguf::ValueType::Array);
    EXPECT_EQ(*nested->elements[0].asArray()->elements[0].asSigned(), 7);
    EXPECT_EQ(f.tensors().size(), 0u);
  }
}

TEST(GGUFReader, HonoursGeneralAlignment) {
  gguf::Writer w(gguf::WriterOptions{3, 64, std::nullopt});
  w.addU32("general.alignment", 64);
  std::string data(4 * 3, '\0');
  w.addTensorBytes("a", {3}, 0, data);
  w.addTensorBytes("b", {3}, 0, data);
  std::ostringstream out;
  w.write(out);
  gguf::File f = parseBytes(out.str());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.dataOffset() % 64, 0u);
  EXPECT_EQ(f.findTensor("b")->offset, 64u);
}

} // namespace
