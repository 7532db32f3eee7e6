#include "Frontend/WeightReader.h"

#include "Frontend/CheckedMath.h"
#include "Frontend/Dequantize.h"
#include "Frontend/MappedFile.h"

#include <cmath>
#include <cstring>
#include <fmt/format.h>

namespace granite {
namespace {

/// Row r of the model's tensor comes from stored row storedRow(r); rows are ne[0] elements of the stored type.
template <typename RowMap>
std::vector<uint8_t> permuteRows(const uint8_t *stored, uint64_t rows, uint64_t rowBytes, RowMap storedRow) {
  std::vector<uint8_t> out(rows * rowBytes);
  for (uint64_t r = 0; r < rows; ++r)
    std::memcpy(out.data() + r * rowBytes, stored + storedRow(r) * rowBytes, rowBytes);
  return out;
}

} // namespace

std::vector<uint8_t> readWeightBytes(const WeightSource &w) {
  auto file = MappedFile::map(w.file);
  uint64_t end = 0;
  if (!checkedAdd(w.offset, w.storedBytes, end) || end > file->size())
    throw gguf::FormatError(fmt::format("weight '{}': bytes [{}, +{}) lie outside {} ({} bytes)", w.name, w.offset,
                                        w.storedBytes, w.file, file->size()));
  const uint8_t *stored = file->data() + w.offset;
  const auto &traits = traitsOf(w.storedType);
  const uint64_t rowBytes = w.ne[0] / traits.blockElements * traits.blockBytes;
  const uint64_t rows = w.elementCount() / w.ne[0];

  std::vector<uint8_t> bytes;
  switch (w.transform) {
  case WeightTransform::None: bytes.assign(stored, stored + w.storedBytes); break;
  case WeightTransform::RopePairsFromHalves: {
    // Within each head of d rows, model row 2i+j is stored row j*d/2+i (undoing HF's rotate_half layout).
    const uint64_t d = w.transformHeadDim;
    bytes = permuteRows(stored, rows, rowBytes, [d](uint64_t r) {
      const uint64_t head = r / d, within = r % d;
      return head * d + (within % 2) * (d / 2) + within / 2;
    });
    break;
  }
  case WeightTransform::ExpertsFirstHalf:
  case WeightTransform::ExpertsSecondHalf: {
    // ne = [D, F, E]; stored [E][2F][D]: expert e's half h starts at stored row e*2F + h*F.
    const uint64_t F = w.ne[1], half = w.transform == WeightTransform::ExpertsSecondHalf ? 1 : 0;
    bytes = permuteRows(stored, rows, rowBytes, [F, half](uint64_t r) { return (r / F) * 2 * F + half * F + r % F; });
    break;
  }
  case WeightTransform::NegExp: {
    std::vector<float> values(w.elementCount());
    dequantizeRow(w.storedType, stored, values.data(), static_cast<int64_t>(values.size()));
    for (float &v : values) v = -std::exp(v);
    bytes.resize(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes; // already F32
  }
  }
  if (w.storedType != w.type) { // widening to F32
    std::vector<float> values(w.elementCount());
    dequantizeRow(w.storedType, bytes.data(), values.data(), static_cast<int64_t>(values.size()));
    bytes.resize(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
  }
  return bytes;
}

std::vector<float> readWeightValues(const WeightSource &w) {
  const std::vector<uint8_t> bytes = readWeightBytes(w);
  std::vector<float> values(w.elementCount());
  dequantizeRow(w.type, bytes.data(), values.data(), static_cast<int64_t>(values.size()));
  return values;
}

} // namespace granite
