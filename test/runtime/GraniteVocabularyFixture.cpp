#include "GraniteVocabularyFixture.h"

#include "NodeReference.h"
#include "runtime/GraniteVocabulary.h"
#include "runtime/TiktokenRanks.h"

namespace granite::runtime::testing {

const Vocabulary &graniteVocabulary() {
  static const Vocabulary vocabulary = buildGraniteVocabulary(readTiktokenRanksFile(cl100kRanksFile()));
  return vocabulary;
}

Tokenizer &graniteTokenizer() {
  static Tokenizer tokenizer(graniteVocabulary());
  return tokenizer;
}

} // namespace granite::runtime::testing
