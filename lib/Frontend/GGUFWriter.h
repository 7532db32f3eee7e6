// Writes GGUF files. Tensor data is streamed from callbacks, so a file of many gigabytes never sits in memory.
// The writer writes what it is told, including inconsistent files, because tests build hostile inputs with it;
// only the defaults (counts, offsets, padding) are derived.
#pragma once

#include "Frontend/GGUF.h"

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace granite::gguf {

struct WriterTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;      ///< raw ggml type id (GGMLType values, or anything for tests)
  uint64_t dataBytes = 0; ///< bytes writeData produces
  std::function<void(std::ostream &)> writeData;
  std::optional<uint64_t> offsetOverride; ///< data offset to record instead of the computed one
};

struct WriterOptions {
  uint32_t version = 3;
  uint64_t alignment = 32; ///< padding unit (general.alignment is ordinary metadata: add it to match)
  std::optional<uint64_t> tensorCountOverride; ///< header value to write instead of the real count
};

class Writer {
public:
  explicit Writer(WriterOptions options = {}) : options_(options) {}

  void add(std::string key, Value value) { metadata_.emplace_back(std::move(key), std::move(value)); }
  void addString(std::string key, std::string value);
  void addU32(std::string key, uint32_t value) { add(std::move(key), Value::makeUnsigned(ValueType::U32, value)); }
  void addF32(std::string key, float value) { add(std::move(key), Value::makeFloat(ValueType::F32, value)); }
  void addBool(std::string key, bool value) { add(std::move(key), Value::makeBool(value)); }
  void addTensor(WriterTensor tensor) { tensors_.push_back(std::move(tensor)); }
  /// A tensor whose bytes are already in memory (copied into the writer).
  void addTensorBytes(std::string name, std::vector<uint64_t> ne, uint32_t type, std::string_view bytes);

  /// Metadata added so far, in order; tests edit it before writing.
  std::vector<std::pair<std::string, Value>> &metadata() { return metadata_; }
  std::vector<WriterTensor> &tensors() { return tensors_; }

  void write(std::ostream &out) const;
  /// Writes to `path` (through a temporary file renamed into place). Throws support::FileError on I/O failure.
  void writeFile(const std::string &path) const;

private:
  WriterOptions options_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<WriterTensor> tensors_;
  std::vector<std::shared_ptr<std::string>> ownedBytes_;
};

/// A writer holding a copy of every metadata entry and tensor of `file` (tensor bytes stay in the mapped file, which
/// must outlive the writer). Round-trips a file byte for byte when nothing is changed.
Writer copyOf(const File &file);

} // namespace granite::gguf
