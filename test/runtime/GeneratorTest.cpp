// The reply loop: stop strings (never streamed), max tokens, context limit, prompt reuse across turns.
#include "runtime/Generator.h"
#include "GraniteVocabularyFixture.h"
#include "ScriptedModel.h"
#include "runtime/GraniteVocabulary.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

SamplingParams greedy() { return SamplingParams{}; }

std::vector<int32_t> withEnd(std::vector<int32_t> ids) {
  ids.push_back(kGraniteEndOfTextId);
  return ids;
}

struct Streamed {
  std::vector<std::string> chunks;
  std::string all() const {
    std::string text;
    for (const std::string &chunk : chunks) text += chunk;
    return text;
  }
};

TEST(Generator, StopsAtEndOfTextAndStreamsEverything) {
  Tokenizer &tokenizer = graniteTokenizer();
  ScriptedModel model(kGraniteVocabularySize, {withEnd(tokenizer.encode("Hello 🙂 there", false))},
                      kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  Streamed streamed;
  GenerationResult result = generator.generate(tokenizer.encode("Hi", false), {},
                                               [&](std::string_view t) { streamed.chunks.emplace_back(t); });
  EXPECT_EQ(result.text, "Hello 🙂 there");
  EXPECT_EQ(streamed.all(), "Hello 🙂 there");
  EXPECT_EQ(result.stopReason, StopReason::EndOfGeneration);
  EXPECT_EQ(result.ids, tokenizer.encode("Hello 🙂 there", false));
}

TEST(Generator, StopStringEndsTheReplyAndIsNeverStreamed) {
  Tokenizer &tokenizer = graniteTokenizer();
  ScriptedModel model(kGraniteVocabularySize, {withEnd(tokenizer.encode("abc STOP def", false))}, kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  GenerationLimits limits;
  limits.stopStrings = {"STOP", "zzz"};
  Streamed streamed;
  GenerationResult result = generator.generate(tokenizer.encode("Hi", false), limits,
                                               [&](std::string_view t) { streamed.chunks.emplace_back(t); });
  EXPECT_EQ(result.text, "abc ");
  EXPECT_EQ(streamed.all(), "abc ");
  EXPECT_EQ(result.stopReason, StopReason::StopString);
}

TEST(Generator, HoldsBackAPossibleStopPrefixThenReleasesIt) {
  Tokenizer &tokenizer = graniteTokenizer();
  ScriptedModel model(kGraniteVocabularySize, {withEnd(tokenizer.encode("one ST two", false))}, kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  GenerationLimits limits;
  limits.stopStrings = {"STOP"};
  Streamed streamed;
  GenerationResult result = generator.generate(tokenizer.encode("Hi", false), limits,
                                               [&](std::string_view t) { streamed.chunks.emplace_back(t); });
  EXPECT_EQ(result.text, "one ST two");
  EXPECT_EQ(streamed.all(), "one ST two");
}

TEST(Generator, AStopStringSplitAcrossTokensIsNeverStreamedInPart) {
  Tokenizer &tokenizer = graniteTokenizer();
  std::vector<int32_t> reply = tokenizer.encode(" hello world again", false);
  // "lo wo" begins inside the first token and ends inside the second.
  ASSERT_EQ(tokenizer.decode({reply[0]}, false), " hello");
  ASSERT_EQ(tokenizer.decode({reply[1]}, false), " world");
  ScriptedModel model(kGraniteVocabularySize, {withEnd(reply)}, kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  GenerationLimits limits;
  limits.stopStrings = {"lo wo"};
  Streamed streamed;
  GenerationResult result = generator.generate(tokenizer.encode("Hi", false), limits,
                                               [&](std::string_view t) { streamed.chunks.emplace_back(t); });
  EXPECT_EQ(result.text, " hel");
  EXPECT_EQ(result.stopReason, StopReason::StopString);
  // After " hello" only " hel" was final: "lo" could begin the stop string, and it did.
  EXPECT_EQ(streamed.chunks, (std::vector<std::string>{" hel"}));
}

TEST(Generator, MaxTokensAndContextLimit) {
  Tokenizer &tokenizer = graniteTokenizer();
  std::vector<int32_t> script = tokenizer.encode("a b c d e f g", false);
  ScriptedModel model(kGraniteVocabularySize, {script, script}, kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  GenerationLimits limits;
  limits.maxTokens = 3;
  GenerationResult first = generator.generate({1, 2}, limits, [](std::string_view) {});
  EXPECT_EQ(first.ids.size(), 3u);
  EXPECT_EQ(first.stopReason, StopReason::MaxTokens);

  model.contextLength_ = 6;
  GenerationResult second = generator.generate({5, 6}, {}, [](std::string_view) {});
  EXPECT_EQ(second.stopReason, StopReason::ContextFull);
  EXPECT_LT(model.held.size(), 6u);
}

TEST(Generator, ReusesTheHeldPrefixAndResetsOtherwise) {
  Tokenizer &tokenizer = graniteTokenizer();
  ScriptedModel model(kGraniteVocabularySize, {{7, 8}, {9}, {10}}, kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  GenerationResult first = generator.generate({1, 2, 3}, {}, [](std::string_view) {});
  EXPECT_EQ(first.ids, (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(first.evaluatedPromptTokens, 3);
  // The model holds 1 2 3 7 8 (the end token is not fed): a prompt extending that is fed incrementally.
  GenerationResult second = generator.generate({1, 2, 3, 7, 8, 4, 5}, {}, [](std::string_view) {});
  EXPECT_EQ(second.evaluatedPromptTokens, 2);
  EXPECT_EQ(model.resets, 0);
  EXPECT_EQ(model.promptCalls.back(), (std::vector<int32_t>{4, 5}));
  // A prompt that diverges from what the model holds starts over.
  GenerationResult third = generator.generate({1, 2, 6}, {}, [](std::string_view) {});
  EXPECT_EQ(third.evaluatedPromptTokens, 3);
  EXPECT_EQ(model.resets, 1);
  EXPECT_EQ(third.ids, (std::vector<int32_t>{10}));
}

TEST(Generator, NeverEmitsPaddingEvenWhenTheModelPrefersIt) {
  Tokenizer &tokenizer = graniteTokenizer();
  ScriptedModel model(kGraniteVocabularySize, {{kGraniteFirstPaddingId + 3}}, kGraniteEndOfTextId);
  Generator generator(model, tokenizer, greedy());
  GenerationLimits limits;
  limits.maxTokens = 1;
  GenerationResult result = generator.generate({1}, limits, [](std::string_view) {});
  ASSERT_EQ(result.ids.size(), 1u);
  EXPECT_LT(result.ids[0], kGraniteFirstPaddingId);
}

} // namespace
} // namespace granite::runtime::testing
