// A tar (POSIX ustar, pax records where ustar runs out) writer for OCI image layers. Every entry is owned by 0:0 and
// has the same mtime, so a layer's bytes depend only on its contents (reproducible digests).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace granite::codegen {

/// The header block(s) of one entry: a pax extended header first when `path` exceeds ustar's 100-byte name field or
/// `size` its 11 octal digits (8 GiB), then the ustar block. `type` is '0' (file), '5' (directory).
std::string tarHeader(const std::string &path, char type, uint64_t size, uint32_t mode, int64_t mtime);

class TarWriter {
public:
  /// Sends the archive's bytes, in order, to `write`.
  TarWriter(std::function<void(const char *, size_t)> write, int64_t mtime) : write_(std::move(write)), mtime_(mtime) {}

  /// `path` is relative ("granite/OUT"); directories get their trailing slash here.
  void directory(const std::string &path, uint32_t mode = 0755);
  /// Streams the file at `source` (it may be larger than memory). Returns false with a one-line `error` when it
  /// cannot be read or changes size while being read; the archive is then unusable.
  bool fileFrom(const std::string &path, const std::string &source, uint32_t mode, std::string &error);
  /// The end-of-archive marker: two zero blocks.
  void finish();

private:
  void pad(uint64_t size);

  std::function<void(const char *, size_t)> write_;
  int64_t mtime_;
};

} // namespace granite::codegen
