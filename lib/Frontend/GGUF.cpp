#include "Frontend/GGUF.h"

#include "Frontend/CheckedMath.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace granite::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;                            // GGML_MAX_DIMS
constexpr unsigned kMaxArrayNesting = 8;                    // deeper nesting is hostile, not a model
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;       // key length, 1-byte key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 4 + 8; // name length, 1-byte name, n_dims, type, offset

/// Bounds-checked little-endian reader over the mapped bytes. Every read names what it was reading so that
/// truncation errors say where the file ends.
class Cursor {
public:
  Cursor(const uint8_t *data, uint64_t size) : data_(data), size_(size) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t bytes, std::string_view what) const {
    if (bytes > remaining())
      throw FormatError(fmt::format("truncated file: {} needs {} bytes at offset {}, but the file ends at {}", what,
                                    bytes, pos_, size_));
  }

  template <typename T> T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view readString(std::string_view what) {
    uint64_t length = read<uint64_t>(what);
    if (length > remaining())
      throw FormatError(fmt::format("{} has length {} at offset {}, past the end of the file ({} bytes)", what, length,
                                    pos_ - 8, size_));
    std::string_view s(reinterpret_cast<const char *>(data_ + pos_), length);
    pos_ += length;
    return s;
  }

private:
  const uint8_t *data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

bool isKnownValueType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

/// Smallest encoding of one value of type `t`, used to bound array counts before allocating.
uint64_t minEncodedSize(ValueType t) {
  switch (t) {
  case ValueType::U8:
  case ValueType::I8:
  case ValueType::Bool: return 1;
  case ValueType::U16:
  case ValueType::I16: return 2;
  case ValueType::U32:
  case ValueType::I32:
  case ValueType::F32: return 4;
  case ValueType::U64:
  case ValueType::I64:
  case ValueType::F64:
  case ValueType::String: return 8;
  case ValueType::Array: return 12;
  }
  return 1;
}

Value readValue(Cursor &in, ValueType type, std::string_view key, unsigned depth);

Value readScalar(Cursor &in, ValueType type, std::string_view key) {
  std::string what = fmt::format("value of metadata key '{}'", key);
  switch (type) {
  case ValueType::U8: return Value::makeUnsigned(type, in.read<uint8_t>(what));
  case ValueType::U16: return Value::makeUnsigned(type, in.read<uint16_t>(what));
  case ValueType::U32: return Value::makeUnsigned(type, in.read<uint32_t>(what));
  case ValueType::U64: return Value::makeUnsigned(type, in.read<uint64_t>(what));
  case ValueType::I8: return Value::makeSigned(type, in.read<int8_t>(what));
  case ValueType::I16: return Value::makeSigned(type, in.read<int16_t>(what));
  case ValueType::I32: return Value::makeSigned(type, in.read<int32_t>(what));
  case ValueType::I64: return Value::makeSigned(type, in.read<int64_t>(what));
  case ValueType::F32: return Value::makeFloat(type, in.read<float>(what));
  case ValueType::F64: return Value::makeFloat(type, in.read<double>(what));
  case ValueType::Bool: {
    uint8_t b = in.read<uint8_t>(what);
    if (b > 1) throw FormatError(fmt::format("metadata key '{}' holds bool byte {}, expected 0 or 1", key, b));
    return Value::makeBool(b != 0);
  }
  case ValueType::String: return Value::makeString(in.readString(what));
  case ValueType::Array: break;
  }
  throw FormatError(fmt::format("metadata key '{}': internal error reading a scalar", key));
}

Value readValue(Cursor &in, ValueType type, std::string_view key, unsigned depth) {
  if (type != ValueType::Array) return readScalar(in, type, key);
  if (depth >= kMaxArrayNesting)
    throw FormatError(fmt::format("metadata key '{}' nests arrays more than {} deep", key, kMaxArrayNesting));
  uint32_t rawElem = in.read<uint32_t>(fmt::format("array element type of metadata key '{}'", key));
  if (!isKnownValueType(rawElem))
    throw FormatError(fmt::format("metadata key '{}' is an array of unknown value type {}", key, rawElem));
  auto elemType = static_cast<ValueType>(rawElem);
  uint64_t count = in.read<uint64_t>(fmt::format("array length of metadata key '{}'", key));
  uint64_t minBytes = 0;
  if (!checkedMul(count, minEncodedSize(elemType), minBytes) || minBytes > in.remaining())
    throw FormatError(fmt::format("metadata key '{}' claims {} array elements of type {}, more than the {} bytes "
                                  "left in the file can hold",
                                  key, count, valueTypeName(elemType), in.remaining()));
  auto array = std::make_unique<ArrayValue>();
  array->elementType = elemType;
  array->elements.reserve(count);
  for (uint64_t i = 0; i < count; ++i) array->elements.push_back(readValue(in, elemType, key, depth + 1));
  return Value::makeArray(std::move(array));
}

void checkName(std::string_view name, std::string_view what, uint64_t offset) {
  if (name.empty()) throw FormatError(fmt::format("empty {} at offset {}", what, offset));
  for (char c : name)
    if (c == '\0') throw FormatError(fmt::format("{} at offset {} contains a NUL byte", what, offset));
}

} // namespace

const char *valueTypeName(ValueType type) {
  switch (type) {
  case ValueType::U8: return "u8";
  case ValueType::I8: return "i8";
  case ValueType::U16: return "u16";
  case ValueType::I16: return "i16";
  case ValueType::U32: return "u32";
  case ValueType::I32: return "i32";
  case ValueType::F32: return "f32";
  case ValueType::Bool: return "bool";
  case ValueType::String: return "string";
  case ValueType::Array: return "array";
  case ValueType::U64: return "u64";
  case ValueType::I64: return "i64";
  case ValueType::F64: return "f64";
  }
  return "?";
}

// --- Value -------------------------------------------------------------------------------------------------------

bool Value::isInteger() const {
  switch (type_) {
  case ValueType::U8:
  case ValueType::I8:
  case ValueType::U16:
  case ValueType::I16:
  case ValueType::U32:
  case ValueType::I32:
  case ValueType::U64:
  case ValueType::I64: return true;
  default: return false;
  }
}

static bool isSignedType(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

std::optional<uint64_t> Value::asUnsigned() const {
  if (!isInteger()) return std::nullopt;
  if (isSignedType(type_)) return signed_ < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(signed_));
  return unsigned_;
}

std::optional<int64_t> Value::asSigned() const {
  if (!isInteger()) return std::nullopt;
  if (isSignedType(type_)) return signed_;
  if (unsigned_ > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(unsigned_);
}

std::optional<double> Value::asFloat() const {
  if (type_ == ValueType::F32 || type_ == ValueType::F64) return float_;
  return std::nullopt;
}

std::optional<bool> Value::asBool() const {
  if (type_ != ValueType::Bool) return std::nullopt;
  return unsigned_ != 0;
}

std::optional<std::string_view> Value::asString() const {
  if (type_ != ValueType::String) return std::nullopt;
  return string_;
}

Value Value::makeUnsigned(ValueType type, uint64_t v) {
  Value r;
  r.type_ = type;
  r.unsigned_ = v;
  return r;
}
Value Value::makeSigned(ValueType type, int64_t v) {
  Value r;
  r.type_ = type;
  r.signed_ = v;
  return r;
}
Value Value::makeFloat(ValueType type, double v) {
  Value r;
  r.type_ = type;
  r.float_ = v;
  return r;
}
Value Value::makeBool(bool v) {
  Value r;
  r.type_ = ValueType::Bool;
  r.unsigned_ = v ? 1 : 0;
  return r;
}
Value Value::makeString(std::string_view v) {
  Value r;
  r.type_ = ValueType::String;
  r.string_ = v;
  return r;
}
Value Value::makeArray(std::unique_ptr<ArrayValue> v) {
  Value r;
  r.type_ = ValueType::Array;
  r.array_ = std::move(v);
  return r;
}

// --- TensorInfo / File -------------------------------------------------------------------------------------------

std::string shapeString(const std::vector<uint64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

File File::open(const std::string &path) { return parse(MappedFile::map(path)); }

File File::parse(std::shared_ptr<const MappedFile> bytes) {
  File f;
  f.map_ = std::move(bytes);
  Cursor in(f.map_->data(), f.map_->size());

  in.need(4, "the GGUF magic");
  if (std::memcmp(f.map_->data(), "GGUF", 4) != 0) {
    const uint8_t *m = f.map_->data();
    throw FormatError(fmt::format("not a GGUF file: magic bytes are {:02x} {:02x} {:02x} {:02x}, expected 47 47 55 46 "
                                  "(\"GGUF\")",
                                  m[0], m[1], m[2], m[3]));
  }
  in.read<uint32_t>("the GGUF magic");
  f.version_ = in.read<uint32_t>("the GGUF version");
  if (f.version_ != 2 && f.version_ != 3) {
    if (f.version_ == 0x02000000u || f.version_ == 0x03000000u)
      throw FormatError("big-endian GGUF files are not supported");
    throw FormatError(fmt::format("unsupported GGUF version {} (granitec reads versions 2 and 3)", f.version_));
  }
  uint64_t tensorCount = in.read<uint64_t>("the tensor count");
  uint64_t kvCount = in.read<uint64_t>("the metadata count");

  uint64_t bound = 0;
  if (!checkedMul(kvCount, kMinKeyValueBytes, bound) || bound > in.remaining())
    throw FormatError(
        fmt::format("metadata count {} is more than a file of {} bytes can hold", kvCount, f.map_->size()));
  if (!checkedMul(tensorCount, kMinTensorInfoBytes, bound) || bound > in.remaining())
    throw FormatError(
        fmt::format("tensor count {} is more than a file of {} bytes can hold", tensorCount, f.map_->size()));

  // --- metadata
  f.metadata_.reserve(kvCount);
  for (uint64_t i = 0; i < kvCount; ++i) {
    uint64_t at = in.position();
    std::string_view key = in.readString(fmt::format("the key of metadata entry {}", i));
    checkName(key, "metadata key", at);
    uint32_t rawType = in.read<uint32_t>(fmt::format("the value type of metadata key '{}'", key));
    if (!isKnownValueType(rawType))
      throw FormatError(fmt::format("metadata key '{}' has unknown value type {}", key, rawType));
    Value v = readValue(in, static_cast<ValueType>(rawType), key, 0);
    if (f.metadataIndex_.count(key)) throw FormatError(fmt::format("duplicate metadata key '{}'", key));
    f.metadataIndex_.emplace(std::string(key), f.metadata_.size());
    f.metadata_.emplace_back(std::string(key), std::move(v));
  }

  if (const Value *a = f.find("general.alignment")) {
    auto align = a->asUnsigned();
    if (a->type() != ValueType::U32 || !align || *align == 0 || (*align & (*align - 1)) != 0)
      throw FormatError("general.alignment must be a u32 power of two");
    f.alignment_ = *align;
  }

  // --- tensor infos
  f.tensors_.reserve(tensorCount);
  for (uint64_t i = 0; i < tensorCount; ++i) {
    uint64_t at = in.position();
    TensorInfo t;
    t.name = std::string(in.readString(fmt::format("the name of tensor {}", i)));
    checkName(t.name, "tensor name", at);
    uint32_t nDims = in.read<uint32_t>(fmt::format("the dimension count of tensor '{}'", t.name));
    if (nDims == 0 || nDims > kMaxDims)
      throw FormatError(fmt::format("tensor '{}' has {} dimensions (1 to {} allowed)", t.name, nDims, kMaxDims));
    t.ne.resize(nDims);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      t.ne[d] = in.read<uint64_t>(fmt::format("dimension {} of tensor '{}'", d, t.name));
      if (t.ne[d] == 0) throw FormatError(fmt::format("tensor '{}' has an empty dimension {}", t.name, d));
      if (!checkedMul(elements, t.ne[d], elements) || elements > (uint64_t(1) << 62))
        throw FormatError(fmt::format("tensor '{}': the product of its dimensions overflows", t.name));
    }
    t.elementCount = elements;
    uint32_t rawType = in.read<uint32_t>(fmt::format("the type of tensor '{}'", t.name));
    auto traits = ggmlTypeTraits(rawType);
    if (!traits)
      throw FormatError(fmt::format("tensor '{}' has unknown or unsupported tensor type {}", t.name, rawType));
    t.type = traits->type;
    if (t.ne[0] % traits->blockElements != 0)
      throw FormatError(fmt::format("tensor '{}' of type {} has row length {}, not a multiple of its block size {}",
                                    t.name, traits->name, t.ne[0], traits->blockElements));
    t.byteSize = (elements / traits->blockElements) * traits->blockBytes; // cannot overflow: elements < 2^62
    t.offset = in.read<uint64_t>(fmt::format("the data offset of tensor '{}'", t.name));
    if (f.tensorIndex_.count(t.name)) throw FormatError(fmt::format("duplicate tensor name '{}'", t.name));
    f.tensorIndex_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  // --- data section: aligned start, every tensor inside the file, aligned, no two overlapping
  uint64_t dataStart = 0;
  if (!checkedAlignUp(in.position(), f.alignment_, dataStart)) throw FormatError("data section offset overflows");
  f.dataOffset_ = dataStart;
  const uint64_t fileSize = f.map_->size();
  for (auto &t : f.tensors_) {
    if (t.offset % f.alignment_ != 0)
      throw FormatError(fmt::format("tensor '{}' has data offset {}, not a multiple of the alignment {}", t.name,
                                    t.offset, f.alignment_));
    uint64_t begin = 0, end = 0;
    if (!checkedAdd(dataStart, t.offset, begin) || !checkedAdd(begin, t.byteSize, end) || end > fileSize)
      throw FormatError(fmt::format("tensor '{}' ({} bytes at data offset {}) extends past the end of the file "
                                    "({} bytes)",
                                    t.name, t.byteSize, t.offset, fileSize));
    t.data = f.map_->data() + begin;
  }
  std::vector<const TensorInfo *> byOffset;
  for (const auto &t : f.tensors_) byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) { return a->offset < b->offset; });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->offset + byOffset[i - 1]->byteSize > byOffset[i]->offset)
      throw FormatError(
          fmt::format("tensors '{}' and '{}' overlap in the data section", byOffset[i - 1]->name, byOffset[i]->name));
  return f;
}

const Value *File::find(std::string_view key) const {
  auto it = metadataIndex_.find(key);
  return it == metadataIndex_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo *File::findTensor(std::string_view name) const {
  auto it = tensorIndex_.find(name);
  return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

} // namespace granite::gguf
