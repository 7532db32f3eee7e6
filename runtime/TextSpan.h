// A byte range of a text.
#pragma once

#include <cstddef>

namespace granite::runtime {

struct TextSpan {
  size_t offset;
  size_t length;
  size_t end() const { return offset + length; }
};

} // namespace granite::runtime
