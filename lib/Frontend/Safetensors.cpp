#include "Frontend/Safetensors.h"

#include "Frontend/CheckedMath.h"
#include "Frontend/GGUF.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace granite::safetensors {
namespace {

using gguf::FormatError;

uint64_t dtypeBytes(const std::string &dtype) {
  static const std::map<std::string, uint64_t> sizes = {{"F64", 8}, {"F32", 4},  {"F16", 2},     {"BF16", 2},
                                                        {"I64", 8}, {"I32", 4},  {"I16", 2},     {"I8", 1},
                                                        {"U8", 1},  {"BOOL", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

uint64_t asOffset(const nlohmann::json &v, const std::string &what) {
  if (!v.is_number_unsigned()) throw FormatError(fmt::format("{} must be a non-negative integer", what));
  return v.get<uint64_t>();
}

} // namespace

std::optional<GGMLType> ggmlTypeOfDtype(const std::string &dtype) {
  if (dtype == "F32") return GGMLType::F32;
  if (dtype == "F16") return GGMLType::F16;
  if (dtype == "BF16") return GGMLType::BF16;
  return std::nullopt;
}

File File::open(const std::string &path) {
  File f;
  f.map_ = MappedFile::map(path);
  const uint64_t size = f.map_->size();
  if (size < 8)
    throw FormatError(fmt::format("truncated safetensors file: {} bytes, the header length alone needs 8", size));
  uint64_t headerLength;
  std::memcpy(&headerLength, f.map_->data(), 8);
  if (headerLength > size - 8)
    throw FormatError(
        fmt::format("safetensors header length {} runs past the end of the file ({} bytes)", headerLength, size));
  const char *headerBegin = reinterpret_cast<const char *>(f.map_->data() + 8);
  nlohmann::json header = nlohmann::json::parse(headerBegin, headerBegin + headerLength, nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw FormatError("safetensors header is not a JSON object");
  const uint64_t dataStart = 8 + headerLength;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto &[name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = fmt::format("tensor '{}'", name);
    if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() || !info.contains("shape") ||
        !info["shape"].is_array() || !info.contains("data_offsets") || !info["data_offsets"].is_array() ||
        info["data_offsets"].size() != 2)
      throw FormatError(fmt::format("{} needs dtype, shape and data_offsets [begin, end]", where));
    Tensor t;
    t.name = name;
    t.dtype = info["dtype"].get<std::string>();
    const uint64_t elementBytes = dtypeBytes(t.dtype);
    if (elementBytes == 0) throw FormatError(fmt::format("{} has unknown dtype '{}'", where, t.dtype));
    uint64_t elements = 1;
    for (const auto &d : info["shape"]) {
      uint64_t dim = asOffset(d, where + " shape entry");
      t.shape.push_back(dim);
      if (!checkedMul(elements, dim, elements))
        throw FormatError(fmt::format("{}: the product of its dimensions overflows", where));
    }
    const uint64_t begin = asOffset(info["data_offsets"][0], where + " data_offsets"),
                   end = asOffset(info["data_offsets"][1], where + " data_offsets");
    uint64_t expected = 0, absoluteEnd = 0;
    if (!checkedMul(elements, elementBytes, expected) || end < begin || end - begin != expected)
      throw FormatError(
          fmt::format("{} data_offsets [{}, {}] do not hold its {} {} elements", where, begin, end, elements, t.dtype));
    if (!checkedAdd(dataStart, end, absoluteEnd) || absoluteEnd > size)
      throw FormatError(fmt::format("{} data [{}, {}) extends past the end of the file", where, begin, end));
    t.offset = dataStart + begin;
    t.byteSize = expected;
    ranges.emplace_back(begin, end);
    f.tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) throw FormatError("two tensors overlap in the safetensors data");
  return f;
}

const Tensor *File::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

} // namespace granite::safetensors
