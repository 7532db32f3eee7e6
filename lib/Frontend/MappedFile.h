// A read-only view of a whole file, memory-mapped (never copied), or of an owned byte buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace granite {

class MappedFile {
public:
  /// Maps `path` read-only. Throws std::system_error naming the path when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> map(const std::string &path);
  /// Wraps bytes held in memory (tests, generated files).
  static std::shared_ptr<const MappedFile> fromBytes(std::vector<uint8_t> bytes, std::string name);

  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  MappedFile() = default;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;
  std::string path_;
};

} // namespace granite
