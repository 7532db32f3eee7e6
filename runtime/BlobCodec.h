// Little-endian writing and bounds-checked reading of the runtime's payload blobs (runtime/VocabularyBlob.h,
// runtime/VocabularyTrieBlob.h). A read past the end throws `Error` naming the blob and what was being read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

class BlobWriter {
public:
  void bytes(const void *data, size_t size) {
    auto p = static_cast<const uint8_t *>(data);
    out.insert(out.end(), p, p + size);
  }
  void u8(uint8_t v) { out.push_back(v); }
  void fixed16(uint16_t v) { fixed(v, 16); }
  void fixed32(uint32_t v) { fixed(v, 32); }
  void fixed64(uint64_t v) { fixed(v, 64); }
  /// Unsigned LEB128.
  void varint(uint64_t v) {
    do {
      uint8_t low = v & 0x7F;
      v >>= 7;
      out.push_back(v ? (low | 0x80) : low);
    } while (v);
  }
  void string(std::string_view s) {
    varint(s.size());
    bytes(s.data(), s.size());
  }
  std::vector<uint8_t> out;

private:
  void fixed(uint64_t v, int bits) {
    for (int shift = 0; shift < bits; shift += 8) out.push_back(static_cast<uint8_t>(v >> shift));
  }
};

template <class Error> class BlobReader {
public:
  /// `blob` names the blob in messages ("vocabulary blob").
  BlobReader(const uint8_t *data, size_t size, const char *blob) : data_(data), size_(size), blob_(blob) {}

  const uint8_t *take(size_t count, const char *what) {
    if (count > size_ - pos_)
      throw Error(std::string(blob_) + " is truncated in " + what + " at byte " + std::to_string(pos_));
    const uint8_t *p = data_ + pos_;
    pos_ += count;
    return p;
  }
  uint8_t u8(const char *what) { return *take(1, what); }
  uint16_t fixed16(const char *what) { return static_cast<uint16_t>(fixed(take(2, what), 2)); }
  uint32_t fixed32(const char *what) { return static_cast<uint32_t>(fixed(take(4, what), 4)); }
  uint64_t fixed64(const char *what) { return fixed(take(8, what), 8); }
  uint64_t varint(const char *what) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8(what);
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return value;
    }
    throw Error(std::string(blob_) + " has an overlong number in " + what);
  }
  /// A count of items that each take at least `itemBytes` bytes, so it can never announce more than is left.
  size_t count(uint64_t n, size_t itemBytes, const char *what) {
    if (n > (size_ - pos_) / itemBytes)
      throw Error(std::string(blob_) + " is truncated in " + what + " (" + std::to_string(n) + " announced, " +
                  std::to_string(size_ - pos_) + " bytes left)");
    return static_cast<size_t>(n);
  }
  size_t count(const char *what) { return count(varint(what), 1, what); }
  std::string string(const char *what) {
    size_t length = count(what);
    return std::string(reinterpret_cast<const char *>(take(length, what)), length);
  }
  bool atEnd() const { return pos_ == size_; }
  size_t position() const { return pos_; }
  /// Throws unless every byte was read.
  void expectEnd() const {
    if (pos_ != size_)
      throw Error(std::string(blob_) + " has " + std::to_string(size_ - pos_) + " bytes after its end");
  }

private:
  static uint64_t fixed(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }
  const uint8_t *data_;
  size_t size_;
  const char *blob_;
  size_t pos_ = 0;
};

} // namespace granite::runtime
