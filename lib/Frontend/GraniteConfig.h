// The hyperparameters of one Granite 4.0 model (granite / granitehybrid / granitemoe), read from GGUF metadata
// with llama.cpp's defaulting rules, and the validation of every tensor they imply.
#pragma once

#include "Frontend/GGUF.h"

#include <cstdint>
#include <string>
#include <vector>

namespace granite {

enum class LayerKind { Mamba2, Attention };

/// The SSM (Mamba2) sizes shared by all Mamba2 layers of a model.
struct SsmConfig {
  uint32_t convKernel = 0; ///< K (d_conv)
  uint32_t stateSize = 0;  ///< N (d_state)
  uint32_t groupCount = 0; ///< G
  uint32_t innerSize = 0;  ///< I = d_inner = heads * headDim
  uint32_t headCount = 0;  ///< H (GGUF ssm.time_step_rank)
  uint32_t headDim() const { return headCount ? innerSize / headCount : 0; }
  uint32_t convChannels() const { return innerSize + 2 * groupCount * stateSize; } ///< xBC width
  uint32_t inProjRows() const { return 2 * innerSize + 2 * groupCount * stateSize + headCount; }
};

struct GraniteConfig {
  std::string architecture; ///< "granite", "granitehybrid" or "granitemoe"
  uint32_t vocabSize = 0;   ///< rows of token_embd (padded vocabulary)
  uint32_t embeddingLength = 0;
  uint32_t contextLength = 0;
  std::vector<LayerKind> layers;

  // Attention (per layer kv heads; 0 on Mamba2 layers).
  uint32_t headCount = 0;
  std::vector<uint32_t> headCountKv;
  uint32_t headDim = 0;      ///< key length
  uint32_t valueHeadDim = 0; ///< value length
  bool useRope = true;
  uint32_t ropeDimensions = 0;
  float ropeFreqBase = 10000.0f;

  // Granite multipliers, already defaulted: a missing or zero key means "off".
  float embeddingScale = 1.0f;
  float residualScale = 1.0f;
  float attentionScale = 0.0f; ///< softmax scale; 1/sqrt(headDim) when the key is absent or zero
  float logitScale = 1.0f;     ///< logits are divided by this
  float rmsEpsilon = 1e-5f;

  // Feed-forward.
  uint32_t ffnLength = 0;       ///< dense SwiGLU width, or the per-expert width for MoE
  uint32_t expertCount = 0;     ///< 0 = dense
  uint32_t expertUsedCount = 0; ///< top-k
  uint32_t sharedFfnLength = 0; ///< shared expert width (MoE only; 0 = no shared expert)

  SsmConfig ssm;              ///< meaningful only when some layer is Mamba2
  bool tiedEmbeddings = true; ///< no output.weight: the head reuses token_embd

  uint32_t layerCount() const { return static_cast<uint32_t>(layers.size()); }
  bool isMoE() const { return expertCount > 0; }
  bool hasMamba() const;
  bool hasAttention() const;
  /// One letter per layer: M = Mamba2, A = attention (e.g. "MAM").
  std::string layerMap() const;
};

/// Problems found in a model file, each one line naming the tensor or key with expected and found values.
class ConfigError : public gguf::FormatError {
public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string> &problems() const { return problems_; }

private:
  std::vector<std::string> problems_;
};

/// Reads the config from `file`'s metadata (and the shapes of token_embd/output for vocab and tying).
/// Throws ConfigError for a non-Granite architecture or missing/inconsistent hyperparameters.
GraniteConfig readGraniteConfig(const gguf::File &file);

/// The tensors a config implies, with their exact shapes (ne order) and allowed element types.
struct ExpectedTensor {
  std::string name;
  std::vector<uint64_t> ne;
  bool quantizable; ///< a matrix that may be F32/F16/BF16/Q*; otherwise it must be F32
  bool optional = false;
};
std::vector<ExpectedTensor> expectedTensors(const GraniteConfig &config);

/// A tensor as a model file provides it.
struct TensorDescription {
  std::string name;
  std::vector<uint64_t> ne;
  GGMLType type;
};

/// Checks that every expected tensor is present with its exact shape and an allowed type, and that there is no
/// tensor the config does not use. Throws ConfigError listing every problem.
void checkTensorSet(const GraniteConfig &config, const std::vector<TensorDescription> &tensors);

/// checkTensorSet over the tensors of a GGUF file.
void validateTensors(const GraniteConfig &config, const gguf::File &file);

/// readGraniteConfig followed by validateTensors.
GraniteConfig loadGraniteConfig(const gguf::File &file);

} // namespace granite
