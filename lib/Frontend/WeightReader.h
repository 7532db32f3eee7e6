// Reads a weight as the model uses it: the stored bytes with the WeightSource's transform and widening applied.
#pragma once

#include "Frontend/ModelSource.h"

#include <cstdint>
#include <vector>

namespace granite {

/// The tensor's bytes in `w.type` and model layout. Throws gguf::FormatError when the stored range lies outside
/// its file.
std::vector<uint8_t> readWeightBytes(const WeightSource &w);

/// The tensor's values as f32 (dequantized), in model layout.
std::vector<float> readWeightValues(const WeightSource &w);

} // namespace granite
