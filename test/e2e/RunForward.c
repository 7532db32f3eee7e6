/* A minimal host for a compiled model object, built for another architecture and run under an emulator by
   GoldenModelTests: runs the prompt through granite_forward (all logits) and writes them.
   usage: run-forward WEIGHTS.blob ID,ID,... LOGITS.f32 */
#include "ModelAbi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: run-forward WEIGHTS.blob ID,ID,... LOGITS.f32\n");
    return 2;
  }
  const GraniteModelInfo *info = granite_model_info();
  void *weights = NULL, *scratch = NULL;
  if (posix_memalign(&weights, 64, info->weights_bytes) || posix_memalign(&scratch, 64, info->scratch_bytes)) return 1;
  FILE *blob = fopen(argv[1], "rb");
  if (!blob || fread(weights, 1, info->weights_bytes, blob) != info->weights_bytes) {
    fprintf(stderr, "run-forward: cannot read %s\n", argv[1]);
    return 1;
  }
  fclose(blob);
  int32_t ids[4096];
  int32_t count = 0;
  for (char *id = strtok(argv[2], ","); id && count < 4096; id = strtok(NULL, ",")) ids[count++] = (int32_t)atoi(id);
  uint8_t *state = calloc(1, info->state_bytes);
  float *logits = malloc(sizeof(float) * (size_t)count * (size_t)info->vocab_size);
  if (!state || !logits) return 1;
  int32_t status = granite_forward(weights, state, scratch, ids, count, 0, 1, logits);
  if (status != 0) {
    fprintf(stderr, "run-forward: granite_forward returned %d\n", status);
    return 1;
  }
  FILE *out = fopen(argv[3], "wb");
  if (!out || fwrite(logits, sizeof(float), (size_t)count * (size_t)info->vocab_size, out) !=
                  (size_t)count * (size_t)info->vocab_size)
    return 1;
  return fclose(out) == 0 ? 0 : 1;
}
