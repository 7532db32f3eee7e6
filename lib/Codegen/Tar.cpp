#include "Codegen/Tar.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/stat.h>
#include <vector>

namespace granite::codegen {
namespace {

constexpr size_t kBlock = 512;

/// `value` as zero-padded octal in a field of `width` bytes (the last one NUL).
void octal(char *field, size_t width, uint64_t value) {
  for (size_t i = width - 1; i-- > 0; value >>= 3) field[i] = char('0' + (value & 7));
  field[width - 1] = '\0';
}

/// One pax record: "<length> <key>=<value>\n", where length counts the whole record, its own digits included.
std::string paxRecord(const std::string &key, const std::string &value) {
  const size_t rest = 1 + key.size() + 1 + value.size() + 1;
  size_t length = rest + 1;
  while (std::to_string(length).size() + rest != length) ++length;
  return std::to_string(length) + " " + key + "=" + value + "\n";
}

std::string ustarBlock(const std::string &name, char type, uint64_t size, uint32_t mode, int64_t mtime) {
  std::string block(kBlock, '\0');
  std::memcpy(&block[0], name.data(), std::min<size_t>(name.size(), 100));
  octal(&block[100], 8, mode);
  octal(&block[108], 8, 0); // uid
  octal(&block[116], 8, 0); // gid
  octal(&block[124], 12, size);
  octal(&block[136], 12, static_cast<uint64_t>(mtime));
  block[156] = type;
  std::memcpy(&block[257],
              "ustar\0"
              "00",
              8);
  // The checksum is computed with its own field as spaces, then written as six digits, NUL, space.
  std::memset(&block[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : block) sum += c;
  octal(&block[148], 7, sum);
  block[155] = ' ';
  return block;
}

} // namespace

std::string tarHeader(const std::string &path, char type, uint64_t size, uint32_t mode, int64_t mtime) {
  constexpr uint64_t kUstarMaxSize = (uint64_t(1) << 33) - 1;
  std::string records;
  if (path.size() > 100) records += paxRecord("path", path);
  if (size > kUstarMaxSize) records += paxRecord("size", std::to_string(size));
  std::string out;
  if (!records.empty()) {
    out = ustarBlock("PaxHeaders/" + path.substr(0, 80), 'x', records.size(), 0644, mtime) + records;
    out.resize((out.size() + kBlock - 1) / kBlock * kBlock, '\0');
  }
  return out + ustarBlock(path, type, size > kUstarMaxSize ? 0 : size, mode, mtime);
}

void TarWriter::pad(uint64_t size) {
  static const char zeros[kBlock] = {};
  write_(zeros, (kBlock - size % kBlock) % kBlock);
}

void TarWriter::directory(const std::string &path, uint32_t mode) {
  std::string header = tarHeader(path + "/", '5', 0, mode, mtime_);
  write_(header.data(), header.size());
}

bool TarWriter::fileFrom(const std::string &path, const std::string &source, uint32_t mode, std::string &error) {
  std::ifstream in(source, std::ios::binary);
  struct stat info{};
  if (!in || stat(source.c_str(), &info) != 0) {
    error = "cannot read '" + source + "': " + std::strerror(errno);
    return false;
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  std::string header = tarHeader(path, '0', size, mode, mtime_);
  write_(header.data(), header.size());
  std::vector<char> buffer(1 << 20);
  uint64_t copied = 0;
  while (copied < size && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(std::min<uint64_t>(buffer.size(), size - copied)));
    write_(buffer.data(), static_cast<size_t>(in.gcount()));
    copied += static_cast<uint64_t>(in.gcount());
  }
  if (copied != size || in.peek() != std::char_traits<char>::eof()) {
    error = "'" + source + "' could not be read to its end, or changed size while it was archived";
    return false;
  }
  pad(size);
  return true;
}

void TarWriter::finish() {
  static const char zeros[2 * kBlock] = {};
  write_(zeros, sizeof zeros);
}

} // namespace granite::codegen
