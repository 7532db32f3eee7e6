#include "Support/AtomicFile.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <streambuf>
#include <sys/stat.h>
#include <unistd.h>

namespace granite::support {

/// A write-only streambuf over a file descriptor that keeps the errno of its first failure. tellp() and seekp() work:
/// the payload writer records offsets, and a writer may seek past the end to leave a hole.
///
/// A file that outgrows the first 64 KiB gets a 16 MiB buffer, written in pieces that end at multiples of 2 MiB of the
/// file: the page cache then holds the file in 2 MiB folios, and an executable that maps its payload (a model's
/// weights) faults it in hundreds of times faster than in the 4 KiB pages that small writes leave.
class AtomicFile::Buffer : public std::streambuf {
public:
  Buffer(int fd, off_t start) : fd_(fd), flushed_(start), capacity_(kSmall), storage_(new char[kSmall]) {
    setp(storage_.get(), storage_.get() + capacity_);
  }
  ~Buffer() override {
    if (fd_ >= 0) ::close(fd_);
  }

  int error() const { return error_; }

  /// Writes what is buffered and closes; false (error() set) on failure.
  bool close() {
    bool written = drain();
    if (::close(fd_) != 0 && error_ == 0) error_ = errno;
    fd_ = -1;
    return written && error_ == 0;
  }

protected:
  int_type overflow(int_type c) override {
    if (capacity_ < kLarge) {
      if (!drain()) return traits_type::eof();
      storage_.reset(new char[kLarge]);
      capacity_ = kLarge;
      setp(storage_.get(), storage_.get() + capacity_);
    } else if (!drainAligned()) {
      return traits_type::eof();
    }
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }
  pos_type seekoff(off_type offset, std::ios_base::seekdir direction, std::ios_base::openmode) override {
    if (offset == 0 && direction == std::ios_base::cur) return pos_type(flushed_ + (pptr() - pbase()));
    if (!drain()) return pos_type(off_type(-1));
    const int whence = direction == std::ios_base::beg   ? SEEK_SET
                       : direction == std::ios_base::cur ? SEEK_CUR
                                                         : SEEK_END;
    const off_t at = ::lseek(fd_, offset, whence);
    if (at < 0) {
      error_ = errno;
      return pos_type(off_type(-1));
    }
    flushed_ = at;
    return pos_type(at);
  }
  pos_type seekpos(pos_type position, std::ios_base::openmode which) override {
    return seekoff(off_type(position), std::ios_base::beg, which);
  }

private:
  static constexpr size_t kSmall = size_t{1} << 16;
  static constexpr size_t kLarge = size_t{1} << 24;
  static constexpr off_t kAlignment = off_t{1} << 21;

  /// Writes the buffered bytes up to the last multiple of kAlignment of the file and keeps the rest (everything
  /// when there is no such multiple in the buffer).
  bool drainAligned() {
    const size_t used = static_cast<size_t>(pptr() - pbase());
    const off_t cut = (flushed_ + static_cast<off_t>(used)) / kAlignment * kAlignment;
    if (cut <= flushed_) return drain();
    const size_t head = static_cast<size_t>(cut - flushed_);
    if (!write(pbase(), head)) return false;
    std::memmove(storage_.get(), storage_.get() + head, used - head);
    setp(storage_.get(), storage_.get() + capacity_);
    pbump(static_cast<int>(used - head));
    return true;
  }
  bool drain() {
    const bool written = write(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(storage_.get(), storage_.get() + capacity_);
    return written;
  }
  bool write(const char *data, size_t left) {
    while (left > 0 && error_ == 0) {
      ssize_t n = ::write(fd_, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = n < 0 ? errno : EIO;
        break;
      }
      data += n;
      left -= static_cast<size_t>(n);
      flushed_ += n;
    }
    return error_ == 0;
  }

  int fd_;
  off_t flushed_; ///< the file offset of pbase()
  int error_ = 0;
  size_t capacity_;
  std::unique_ptr<char[]> storage_;
};

AtomicFile::AtomicFile(std::string path, unsigned mode) : path_(std::move(path)) {
  struct stat existing{};
  if (::stat(path_.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) fail(EISDIR);
  static std::atomic<unsigned> counter{0};
  temporary_ = path_ + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
  int fd = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) fail(errno);
  ::close(fd);
}

AtomicFile::~AtomicFile() {
  stream_.reset();
  buffer_.reset();
  if (!committed_) ::unlink(temporary_.c_str());
}

std::ostream &AtomicFile::stream() {
  if (!stream_) {
    int fd = ::open(temporary_.c_str(), O_WRONLY | O_CLOEXEC);
    off_t end = fd < 0 ? -1 : ::lseek(fd, 0, SEEK_END);
    if (end < 0) {
      int error = errno;
      if (fd >= 0) ::close(fd);
      fail(error);
    }
    buffer_ = std::make_unique<Buffer>(fd, end);
    stream_ = std::make_unique<std::ostream>(buffer_.get());
  }
  return *stream_;
}

void AtomicFile::check() const {
  if (buffer_ && buffer_->error()) fail(buffer_->error());
  if (stream_ && stream_->fail()) fail(EIO); // a writer's own misuse of the stream: the file is not what it meant
}

void AtomicFile::commit() {
  check();
  if (buffer_) {
    stream_.reset();
    bool closed = buffer_->close();
    int error = buffer_->error();
    buffer_.reset();
    if (!closed) fail(error);
  }
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) fail(errno);
  committed_ = true;
}

void AtomicFile::commitAs(std::string path) {
  path_ = std::move(path);
  commit();
}

void AtomicFile::fail(int error) const { throw FileError("cannot write '" + path_ + "': " + std::strerror(error)); }

void writeFileAtomically(const std::string &path, std::string_view contents, unsigned mode) {
  AtomicFile file(path, mode);
  file.stream().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  file.commit();
}

} // namespace granite::support
