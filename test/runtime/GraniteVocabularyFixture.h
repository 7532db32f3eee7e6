// The real Granite 4.0 vocabulary built from js-tiktoken's cl100k ranks, shared by the tests of one process.
#pragma once

#include "runtime/Tokenizer.h"
#include "runtime/Vocabulary.h"

namespace granite::runtime::testing {

const Vocabulary &graniteVocabulary();
/// A tokenizer over graniteVocabulary(); tests in one process share it (they run one after another).
Tokenizer &graniteTokenizer();

} // namespace granite::runtime::testing
