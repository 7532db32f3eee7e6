// GGUF reader: parses the header, metadata and tensor infos of a GGUF v2/v3 file and maps its data section.
// Every count, length, offset and size is checked against the file size before it is used, so a truncated or
// hostile file ends in one FormatError naming the problem, never in an out-of-bounds read.
#pragma once

#include "Format/GGMLType.h"
#include "Frontend/MappedFile.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace granite::gguf {

/// A problem with the contents of a model file. The message is one line and names the problem.
class FormatError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
const char *valueTypeName(ValueType type);

struct ArrayValue;

/// One metadata value. Strings point into the mapped file (no copy); arrays own their elements.
class Value {
public:
  ValueType type() const { return type_; }
  bool isInteger() const;
  bool isArray() const { return type_ == ValueType::Array; }

  /// The value as the requested kind, or nullopt when the stored type is not of that kind
  /// (integers of any width convert when the value fits; floats accept f32 and f64).
  std::optional<uint64_t> asUnsigned() const;
  std::optional<int64_t> asSigned() const;
  std::optional<double> asFloat() const;
  std::optional<bool> asBool() const;
  std::optional<std::string_view> asString() const;
  const ArrayValue *asArray() const { return array_.get(); }

  static Value makeUnsigned(ValueType type, uint64_t v);
  static Value makeSigned(ValueType type, int64_t v);
  static Value makeFloat(ValueType type, double v);
  static Value makeBool(bool v);
  static Value makeString(std::string_view v);
  static Value makeArray(std::unique_ptr<ArrayValue> v);

private:
  ValueType type_ = ValueType::U8;
  uint64_t unsigned_ = 0;
  int64_t signed_ = 0;
  double float_ = 0;
  std::string_view string_;
  std::shared_ptr<const ArrayValue> array_;
};

struct ArrayValue {
  ValueType elementType;
  std::vector<Value> elements;
};

/// One tensor as described by its info record, with its bytes inside the mapped data section.
struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne; ///< GGUF/ggml order: ne[0] is the contiguous (fastest) dimension.
  GGMLType type = GGMLType::F32;
  uint64_t offset = 0; ///< relative to the data section start
  uint64_t elementCount = 0;
  uint64_t byteSize = 0;
  const uint8_t *data = nullptr;

  uint64_t rowLength() const { return ne.empty() ? 1 : ne[0]; }
  uint64_t rowCount() const { return ne.empty() ? 1 : elementCount / ne[0]; }
};

/// A shape as granitec's messages print it, e.g. "[256, 512]".
std::string shapeString(const std::vector<uint64_t> &dims);

class File {
public:
  /// Opens, maps and parses `path`. Throws FormatError (content) or std::system_error (I/O).
  static File open(const std::string &path);
  /// Parses an in-memory image (used by tests); `bytes` must outlive the File.
  static File parse(std::shared_ptr<const MappedFile> bytes);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t dataOffset() const { return dataOffset_; }
  uint64_t fileSize() const { return map_->size(); }
  const std::string &path() const { return map_->path(); }

  /// Metadata in file order.
  const std::vector<std::pair<std::string, Value>> &metadata() const { return metadata_; }
  const Value *find(std::string_view key) const;

  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *findTensor(std::string_view name) const;

private:
  std::shared_ptr<const MappedFile> map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t dataOffset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t, std::less<>> metadataIndex_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensorIndex_;
};

} // namespace granite::gguf
