// What a frontend hands to the importer: the config plus, for every tensor the config implies, where its bytes
// live. GGUF and Hugging Face folders both produce this, so the IR built from either is the same up to sources.
#pragma once

#include "Format/WeightTransform.h"
#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"

#include <string>
#include <vector>

namespace granite {

struct WeightSource {
  std::string name;                                  ///< the GGUF tensor name, e.g. "blk.0.attn_q.weight"
  std::string file;                                  ///< file holding the bytes
  uint64_t offset = 0;                               ///< byte offset of the first stored element within that file
  GGMLType type = GGMLType::F32;                     ///< element type the model uses
  std::vector<uint64_t> ne;                          ///< shape in GGUF order (ne[0] contiguous), as the model uses it
  WeightTransform transform = WeightTransform::None; ///< how the stored bytes become the model's values
  uint32_t transformHeadDim = 0;                     ///< head dimension for RopePairsFromHalves
  /// Element type as stored; differs from `type` only when a BF16/F16 checkpoint stores a tensor the model keeps
  /// in F32 (norms, SSM parameters), which is widened on reading.
  GGMLType storedType = GGMLType::F32;
  uint64_t storedBytes = 0; ///< bytes read from the file
  uint64_t elementCount() const;
  uint64_t byteSize() const; ///< bytes of the model's tensor
};

struct ModelSource {
  GraniteConfig config;
  std::vector<WeightSource> weights; ///< in expectedTensors(config) order, optional ones only when present
  const WeightSource *find(const std::string &name) const;
};

/// The ModelSource of a validated GGUF file (call loadGraniteConfig first).
ModelSource modelSourceFromGGUF(const gguf::File &file, const GraniteConfig &config);

} // namespace granite
