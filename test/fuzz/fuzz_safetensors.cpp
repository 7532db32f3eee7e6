// A safetensors file (8-byte header length, JSON header, data): opening it either fails with FormatError or gives
// tensors whose byte ranges lie inside the file.
#include "FuzzSupport.h"

#include "Frontend/Safetensors.h"

#include <filesystem>

using namespace granite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path = fuzz::scratchPath("model.safetensors");
  fuzz::writeFile(path, std::string_view(reinterpret_cast<const char *>(data), size));
  try {
    const safetensors::File file = safetensors::File::open(path);
    for (const auto &[name, tensor] : file.tensors()) {
      fuzz::require(tensor.offset <= size && tensor.byteSize <= size - tensor.offset,
                    "every tensor's bytes lie inside the file");
      safetensors::ggmlTypeOfDtype(tensor.dtype);
    }
  } catch (const gguf::FormatError &) {
  }
  return 0;
}
