// Every file granitec writes goes through AtomicFile: it is written under a temporary name in its directory and
// renamed onto its final name only after every write and the close succeeded. A full disk, a failed step or an
// interrupted run never leaves half a file under the final name, and a failure removes the temporary too.
#pragma once

#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace granite::support {

/// A file that could not be written, in one line that names it and the reason:
/// "cannot write 'out.gguf': File too large".
class FileError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class AtomicFile {
public:
  /// Creates an empty temporary `PATH.tmp<pid>.<n>` beside `path`, with `mode` (less the umask) as open(2) gives
  /// it: 0666 for data, 0777 for an executable. Throws FileError when `path` is a directory or the temporary cannot
  /// be created.
  explicit AtomicFile(std::string path, unsigned mode = 0666);
  /// Without commit(): closes and removes the temporary.
  ~AtomicFile();
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  const std::string &path() const { return path_; }
  /// For a tool that writes the file itself (the linker, LLVM, Halide); stream() then appends to what it wrote.
  const std::string &temporaryPath() const { return temporary_; }

  /// Buffered writes to the temporary, at its end (a file past 64 KiB through 16 MiB, in writes that end at
  /// multiples of 2 MiB, so the page cache keeps it in 2 MiB folios). The first failure is kept and thrown by commit();
  /// check() throws it early, so that a long writer can stop as soon as the disk is full.
  std::ostream &stream();
  void check() const;

  /// Flushes and closes the temporary, checking both, and renames it onto path(). Throws FileError (and removes the
  /// temporary) on failure.
  void commit();
  /// commit() onto `path` instead: for a file named by its content (an OCI blob by its digest).
  void commitAs(std::string path);

private:
  class Buffer;
  [[noreturn]] void fail(int error) const;

  std::string path_, temporary_;
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<std::ostream> stream_;
  bool committed_ = false;
};

/// Writes `contents` to `path` through an AtomicFile. Throws FileError.
void writeFileAtomically(const std::string &path, std::string_view contents, unsigned mode = 0666);

} // namespace granite::support
