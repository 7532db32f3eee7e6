// One reply: feeds the prompt (reusing whatever prefix the model already holds or a snapshot of the state cache
// holds, since a recurrent state cannot be rolled back but can be extended), then samples token by token, streaming
// text as it becomes final: valid UTF-8 only (whole characters, U+FFFD for bytes that form none; raw bytes only when
// asked), and never the beginning of a stop string that may still complete.
#pragma once

#include "runtime/Model.h"
#include "runtime/Sampler.h"
#include "runtime/StateCache.h"
#include "runtime/TokenMask.h"
#include "runtime/Tokenizer.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

struct GenerationLimits {
  int32_t maxTokens = -1;               ///< < 0: until end of generation or a full context
  std::vector<std::string> stopStrings; ///< the reply ends before the first occurrence of any of them
  std::vector<int32_t> stopIds;         ///< ids that end the reply besides EOS (not part of the text)
  bool renderSpecial = false;           ///< control tokens appear in the text
  bool rawBytes = false;                ///< the text is the tokens' bytes, not made valid UTF-8 (CLI --raw-bytes)
  int32_t topLogprobs = -1;             ///< < 0: no logprobs; else each token's and this many alternatives'
  /// Structured output: each token is sampled from the ids this allows (runtime/TokenMask.h). One per reply.
  std::shared_ptr<JsonConstraint> constraint;
};

enum class StopReason { EndOfGeneration, StopString, MaxTokens, ContextFull, Interrupted };
const char *stopReasonName(StopReason reason);

struct GenerationResult {
  std::string text;                    ///< the reply, without a matched stop string or the end token
  std::vector<int32_t> ids;            ///< sampled ids, without the end token
  int32_t promptTokens = 0;            ///< the prompt's length
  int32_t evaluatedPromptTokens = 0;   ///< of those, how many the model had to process (the rest was reused)
  std::vector<TokenLogprobs> logprobs; ///< one per id of `ids` when limits.topLogprobs >= 0
  StopReason stopReason = StopReason::EndOfGeneration;
  bool incomplete = false; ///< constrained, and the reply ended before its value was whole
  double promptSeconds = 0;
  double generationSeconds = 0;
  double maskSeconds = 0; ///< of generationSeconds, computing the constraint's token masks
};

class Generator {
public:
  /// Without a `cache`, a prompt that extends what the model holds (or that an attention-only model can roll back
  /// to) is fed only past that prefix. With one, the state is snapshotted after every prompt, and a prompt resumes
  /// from the longest cached prefix, with logits identical to a prefill from the first token; a cache of capacity 0
  /// turns all reuse off.
  Generator(Model &model, Tokenizer &tokenizer, SamplingParams sampling, StateCache *cache = nullptr);

  /// The sampling of the next replies; the random stream restarts from `sampling.seed`.
  void setSampling(const SamplingParams &sampling);

  /// Generates a reply to `prompt` (ids). `onText` receives the text as it becomes final; `interrupt`, when set
  /// (e.g. from a SIGINT handler), ends the reply after the current token.
  GenerationResult generate(const std::vector<int32_t> &prompt, const GenerationLimits &limits,
                            const std::function<void(std::string_view)> &onText,
                            const std::atomic<bool> *interrupt = nullptr);

private:
  /// Brings the model to exactly `prompt` and leaves its last logits in logits_.
  void feedPrompt(const std::vector<int32_t> &prompt, GenerationResult &result);
  void feed(const int32_t *ids, int32_t count);
  /// Stores a snapshot of the state after held_ (a whole prompt) in the cache, unless it holds that one already.
  void rememberState();

  Model &model_;
  Tokenizer &tokenizer_;
  StateCache *cache_;
  bool snapshots_;                ///< a cache with room, and a model that can take snapshots
  std::vector<bool> neverSample_; ///< ids the sampler never picks (unused tokens, padding rows)
  Sampler sampler_;
  std::vector<int32_t> held_; ///< the ids the model holds, in order
  size_t prefilled_ = 0;      ///< how many of them the last prompt's prefill fed (the rest are the reply's)
  std::vector<float> logits_; ///< after the last held id
};

} // namespace granite::runtime
