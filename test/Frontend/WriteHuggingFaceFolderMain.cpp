// granite-write-hf MODEL.gguf FOLDER [SHARDS]: test tool that writes an F32 GGUF model as a Hugging Face folder.
#include "Frontend/GGUF.h"
#include "HuggingFaceFolder.h"

#include <cstdlib>
#include <iostream>

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: granite-write-hf MODEL.gguf FOLDER [SHARDS]\n";
    return 2;
  }
  try {
    granite::gguf::File file = granite::gguf::File::open(argv[1]);
    granite::testing::writeHuggingFaceFolder(file, granite::loadGraniteConfig(file), argv[2],
                                             argc == 4 ? std::atoi(argv[3]) : 1);
  } catch (const std::exception &e) {
    std::cerr << "granite-write-hf: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
