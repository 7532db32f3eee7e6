#include "runtime/StreamingDecoder.h"

#include "runtime/Utf8.h"

namespace granite::runtime {

std::string StreamingDecoder::push(int32_t id) {
  if (rawBytes_) return std::string(tokenizer_.tokenBytes(id, renderSpecial_));
  pending_.append(tokenizer_.tokenBytes(id, renderSpecial_));
  size_t complete = completeUtf8Prefix(pending_);
  std::string ready = toValidUtf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return ready;
}

std::string StreamingDecoder::flush() {
  std::string rest = toValidUtf8(pending_);
  pending_.clear();
  return rest;
}

} // namespace granite::runtime
