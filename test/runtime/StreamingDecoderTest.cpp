// Streaming output never splits a UTF-8 character, even when BPE splits it across tokens.
#include "GraniteVocabularyFixture.h"
#include "runtime/StreamingDecoder.h"
#include "runtime/Utf8.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

TEST(StreamingDecoder, HoldsPartialCharactersUntilTheyComplete) {
  Tokenizer &tokenizer = graniteTokenizer();
  const std::string text = "Ok 🙂🤖 中文 é\xCC\x81 👨‍👩‍👧 done";
  std::vector<int32_t> ids = tokenizer.encode(text, false);
  size_t splitCharacters = 0;
  for (int32_t id : ids) splitCharacters += !isValidUtf8(tokenizer.tokenBytes(id, false));
  ASSERT_GT(splitCharacters, 2u) << "the text should contain tokens that end inside a character";

  StreamingDecoder decoder(tokenizer, false);
  std::string streamed;
  for (int32_t id : ids) {
    std::string chunk = decoder.push(id);
    EXPECT_TRUE(isValidUtf8(chunk)) << "token " << id << " emitted a partial character";
    streamed += chunk;
  }
  streamed += decoder.flush();
  EXPECT_EQ(streamed, text);
}

TEST(StreamingDecoder, FlushReturnsAnUnfinishedTail) {
  Tokenizer &tokenizer = graniteTokenizer();
  std::vector<int32_t> ids = tokenizer.encode("🙂", false);
  ASSERT_GT(ids.size(), 1u);
  StreamingDecoder decoder(tokenizer, false);
  EXPECT_EQ(decoder.push(ids[0]), "");
  EXPECT_EQ(decoder.flush(), tokenizer.tokenBytes(ids[0], false));
  EXPECT_EQ(decoder.flush(), "");
}

TEST(StreamingDecoder, RendersControlTokensOnlyWhenAsked) {
  Tokenizer &tokenizer = graniteTokenizer();
  StreamingDecoder plain(tokenizer, false), special(tokenizer, true);
  EXPECT_EQ(plain.push(100257), "");
  EXPECT_EQ(special.push(100257), "<|end_of_text|>");
}

} // namespace
} // namespace granite::runtime::testing
