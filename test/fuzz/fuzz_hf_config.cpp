// A Hugging Face config.json as the HF folder reader turns it into a GraniteConfig. The input is the file's text;
// its first byte also picks the embedding row count the checkpoint would have, so that vocab_size can match.
#include "FuzzSupport.h"

#include "Frontend/GraniteConfig.h"
#include "Frontend/HuggingFace.h"

#include <nlohmann/json.hpp>

using namespace granite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const uint32_t vocabRows = data[0] % 2 ? 512 : 100352;
  const nlohmann::json config = nlohmann::json::parse(data + 1, data + size, nullptr, false);
  if (config.is_discarded()) // loadHuggingFaceFolder refuses it before the config is read
    return 0;
  try {
    // The tensor list is what the folder reader looks up next.
    expectedTensors(graniteConfigFromHuggingFace(config, vocabRows));
  } catch (const ConfigError &) {
  }
  return 0;
}
