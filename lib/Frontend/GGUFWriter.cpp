#include "Frontend/GGUFWriter.h"

#include "Support/AtomicFile.h"

#include <ostream>

namespace granite::gguf {
namespace {

template <typename T> void put(std::ostream &out, T v) { out.write(reinterpret_cast<const char *>(&v), sizeof(T)); }

void putString(std::ostream &out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

void putValue(std::ostream &out, const Value &v) {
  switch (v.type()) {
  case ValueType::U8: put<uint8_t>(out, static_cast<uint8_t>(*v.asUnsigned())); break;
  case ValueType::U16: put<uint16_t>(out, static_cast<uint16_t>(*v.asUnsigned())); break;
  case ValueType::U32: put<uint32_t>(out, static_cast<uint32_t>(*v.asUnsigned())); break;
  case ValueType::U64: put<uint64_t>(out, *v.asUnsigned()); break;
  case ValueType::I8: put<int8_t>(out, static_cast<int8_t>(*v.asSigned())); break;
  case ValueType::I16: put<int16_t>(out, static_cast<int16_t>(*v.asSigned())); break;
  case ValueType::I32: put<int32_t>(out, static_cast<int32_t>(*v.asSigned())); break;
  case ValueType::I64: put<int64_t>(out, *v.asSigned()); break;
  case ValueType::F32: put<float>(out, static_cast<float>(*v.asFloat())); break;
  case ValueType::F64: put<double>(out, *v.asFloat()); break;
  case ValueType::Bool: put<uint8_t>(out, *v.asBool() ? 1 : 0); break;
  case ValueType::String: putString(out, *v.asString()); break;
  case ValueType::Array: {
    const ArrayValue &a = *v.asArray();
    put<uint32_t>(out, static_cast<uint32_t>(a.elementType));
    put<uint64_t>(out, a.elements.size());
    for (const auto &e : a.elements) putValue(out, e);
    break;
  }
  }
}

void pad(std::ostream &out, uint64_t &position, uint64_t alignment) {
  static const char zeros[256] = {};
  uint64_t padding = (alignment - position % alignment) % alignment;
  position += padding;
  while (padding) {
    uint64_t n = std::min<uint64_t>(padding, sizeof zeros);
    out.write(zeros, static_cast<std::streamsize>(n));
    padding -= n;
  }
}

} // namespace

void Writer::addString(std::string key, std::string value) {
  auto owned = std::make_shared<std::string>(std::move(value));
  ownedBytes_.push_back(owned);
  add(std::move(key), Value::makeString(*owned));
}

void Writer::addTensorBytes(std::string name, std::vector<uint64_t> ne, uint32_t type, std::string_view bytes) {
  auto owned = std::make_shared<std::string>(bytes);
  ownedBytes_.push_back(owned);
  addTensor({std::move(name), std::move(ne), type, owned->size(),
             [owned](std::ostream &out) { out.write(owned->data(), static_cast<std::streamsize>(owned->size())); },
             std::nullopt});
}

void Writer::write(std::ostream &out) const {
  out.write("GGUF", 4);
  put<uint32_t>(out, options_.version);
  put<uint64_t>(out, options_.tensorCountOverride.value_or(tensors_.size()));
  put<uint64_t>(out, metadata_.size());
  for (const auto &[key, value] : metadata_) {
    putString(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(value.type()));
    putValue(out, value);
  }
  std::vector<uint64_t> offsets;
  uint64_t running = 0;
  for (const auto &t : tensors_) {
    offsets.push_back(running);
    running += t.dataBytes;
    running += (options_.alignment - running % options_.alignment) % options_.alignment;
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto &t = tensors_[i];
    putString(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) put<uint64_t>(out, d);
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, t.offsetOverride.value_or(offsets[i]));
  }
  uint64_t position = static_cast<uint64_t>(out.tellp());
  pad(out, position, options_.alignment);
  for (const auto &t : tensors_) {
    if (!out) return; // a full disk: producing the remaining tensors would be wasted
    t.writeData(out);
    position += t.dataBytes;
    pad(out, position, options_.alignment);
  }
}

void Writer::writeFile(const std::string &path) const {
  support::AtomicFile file(path);
  write(file.stream());
  file.commit();
}

Writer copyOf(const File &file) {
  Writer w(WriterOptions{file.version(), file.alignment(), std::nullopt});
  for (const auto &[key, value] : file.metadata()) w.add(key, value);
  for (const auto &t : file.tensors()) {
    const uint8_t *data = t.data;
    const uint64_t bytes = t.byteSize;
    w.addTensor({t.name, t.ne, static_cast<uint32_t>(t.type), bytes,
                 [data, bytes](std::ostream &out) {
                   out.write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(bytes));
                 },
                 std::nullopt});
  }
  return w;
}

} // namespace granite::gguf
