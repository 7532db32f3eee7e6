// Streaming output never splits a UTF-8 character, even when BPE splits it across tokens.
#include "runtime/StreamingDecoder.h"
#include "GraniteVocabularyFixture.h"
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

TEST(StreamingDecoder, FlushTurnsAnUnfinishedTailIntoOneReplacementCharacter) {
  Tokenizer &tokenizer = graniteTokenizer();
  std::vector<int32_t> ids = tokenizer.encode("🙂", false);
  ASSERT_GT(ids.size(), 1u);
  StreamingDecoder decoder(tokenizer, false);
  EXPECT_EQ(decoder.push(ids[0]), "");
  EXPECT_EQ(decoder.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.flush(), "");
}

TEST(StreamingDecoder, BytesThatFormNoCharacterBecomeReplacementCharacters) {
  Tokenizer &tokenizer = graniteTokenizer();
  // The byte tokens of a lone continuation byte, then of a lead byte that the next token does not continue.
  auto byteToken = [&](std::string_view byte) {
    for (int32_t id = 0; id < tokenizer.size(); ++id)
      if (tokenizer.tokenBytes(id, false) == byte) return id;
    return -1;
  };
  int32_t continuation = byteToken("\x80"), lead = byteToken("\xE2");
  ASSERT_GE(continuation, 0);
  ASSERT_GE(lead, 0);
  StreamingDecoder decoder(tokenizer, false);
  std::string text = decoder.push(tokenizer.encode("a", false)[0]);
  text += decoder.push(continuation);
  text += decoder.push(lead);
  text += decoder.push(tokenizer.encode("b", false)[0]);
  text += decoder.flush();
  EXPECT_EQ(text, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                  "b");
}

TEST(StreamingDecoder, RendersControlTokensOnlyWhenAsked) {
  Tokenizer &tokenizer = graniteTokenizer();
  StreamingDecoder plain(tokenizer, false), special(tokenizer, true);
  EXPECT_EQ(plain.push(100257), "");
  EXPECT_EQ(special.push(100257), "<|end_of_text|>");
}

} // namespace
} // namespace granite::runtime::testing
