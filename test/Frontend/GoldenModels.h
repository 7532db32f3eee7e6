// Paths of the shared golden models, for tests.
#pragma once

#include <string>
#include <vector>

namespace granite::testing {

inline std::string goldenModel(const std::string &name) {
  return std::string(GRANITE_GOLDEN_DIR) + "/models/" + name + ".gguf";
}

inline const std::vector<std::string> &goldenModelNames() {
  static const std::vector<std::string> names = {"dense-f32",  "dense-bf16",  "dense-q8_0",  "dense-q4_k_m",
                                                 "hybrid-f32", "hybrid-bf16", "hybrid-q8_0", "moe-f32"};
  return names;
}

/// "dense-q8_0" -> "dense"
inline std::string familyOf(const std::string &model) { return model.substr(0, model.find('-')); }

} // namespace granite::testing
