#include "Frontend/ModelSource.h"

namespace granite {

uint64_t WeightSource::elementCount() const {
  uint64_t elements = 1;
  for (uint64_t d : ne) elements *= d;
  return elements;
}

uint64_t WeightSource::byteSize() const {
  const auto &traits = traitsOf(type);
  return elementCount() / traits.blockElements * traits.blockBytes;
}

const WeightSource *ModelSource::find(const std::string &name) const {
  for (const auto &w : weights)
    if (w.name == name) return &w;
  return nullptr;
}

ModelSource modelSourceFromGGUF(const gguf::File &file, const GraniteConfig &config) {
  ModelSource source{config, {}};
  for (const ExpectedTensor &e : expectedTensors(config)) {
    const gguf::TensorInfo *t = file.findTensor(e.name);
    if (!t) continue; // validateTensors has already rejected a missing required tensor
    source.weights.push_back({t->name, file.path(), file.dataOffset() + t->offset, t->type, e.ne, WeightTransform::None,
                              0, t->type, t->byteSize});
  }
  return source;
}

} // namespace granite
