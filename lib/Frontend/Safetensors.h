// Safetensors reader: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the data. Every range is checked against the file before use; data is mmapped.
#pragma once

#include "Format/GGMLType.h"
#include "Frontend/MappedFile.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace granite::safetensors {

struct Tensor {
  std::string name;
  std::string dtype;           ///< as written: "F32", "BF16", ...
  std::vector<uint64_t> shape; ///< row-major (PyTorch order)
  uint64_t offset = 0;         ///< absolute byte offset of the first element in the file
  uint64_t byteSize = 0;
};

class File {
public:
  /// Maps and parses `path`. Throws gguf::FormatError (content) or std::system_error (I/O).
  static File open(const std::string &path);

  const std::string &path() const { return map_->path(); }
  const std::map<std::string, Tensor> &tensors() const { return tensors_; }
  const Tensor *find(const std::string &name) const;

private:
  std::shared_ptr<const MappedFile> map_;
  std::map<std::string, Tensor> tensors_;
};

/// The GGML element type with the same byte layout as a safetensors dtype (F32, F16, BF16), or nullopt.
std::optional<GGMLType> ggmlTypeOfDtype(const std::string &dtype);

} // namespace granite::safetensors
