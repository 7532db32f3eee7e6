// File and process helpers shared by the tests that read golden data and run executables.
#pragma once

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace granite::test {

/// The bytes of `path`, or "" when it cannot be read.
inline std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Raw little-endian f32 values (the golden logits, an executable's --logits): empty when the file cannot be read.
inline std::vector<float> readFloats(const std::filesystem::path &path) {
  std::string bytes = readFile(path);
  std::vector<float> floats(bytes.size() / sizeof(float));
  std::copy_n(bytes.data(), floats.size() * sizeof(float), reinterpret_cast<char *>(floats.data()));
  return floats;
}

inline float maxAbsDiff(const float *a, const float *b, size_t n) {
  float worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

/// Over the common length; a size mismatch is for the caller to check.
inline float maxAbsDiff(const std::vector<float> &a, const std::vector<float> &b) {
  return maxAbsDiff(a.data(), b.data(), std::min(a.size(), b.size()));
}

/// "1,2,3" (the form of --ids) or, with separator " ", "1 2 3" (the form --greedy prints).
inline std::string joinIds(const std::vector<int32_t> &ids, const char *separator = ",") {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) text += (i ? separator : "") + std::to_string(ids[i]);
  return text;
}

struct ShellResult {
  int status;         ///< the exit status, -1 when the command did not exit normally
  std::string output; ///< its stdout (append " 2>&1" to the command for stderr too)
};

inline ShellResult runShell(const std::string &command) {
  std::string output;
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  std::array<char, 4096> buffer;
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

/// A temporary file mapped read-only and private, as runtime/Payload.cpp maps the payload; the file is removed at
/// once and the mapping goes when this does.
class MappedFile {
public:
  /// A file holding `bytes`.
  explicit MappedFile(const std::vector<uint8_t> &bytes) : MappedFile(bytes.size(), bytes.data()) {}
  /// A sparse file of `size` zero bytes.
  explicit MappedFile(uint64_t size) : MappedFile(size, nullptr) {}
  ~MappedFile() { munmap(address_, size_); }
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return static_cast<const uint8_t *>(address_); }
  uint64_t size() const { return size_; }

private:
  MappedFile(uint64_t size, const uint8_t *bytes) : size_(size) {
    std::string path = (std::filesystem::temp_directory_path() / "granite-mapped-XXXXXX").string();
    int fd = mkstemp(path.data());
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    unlink(path.c_str());
    bool written = bytes ? write(fd, bytes, size) == static_cast<ssize_t>(size) : ftruncate(fd, size) == 0;
    address_ = written ? mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (address_ == MAP_FAILED) throw std::runtime_error("cannot write and map " + path);
  }

  uint64_t size_;
  void *address_;
};

} // namespace granite::test
