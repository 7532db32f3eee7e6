/* The C ABI between a compiled model (the object granitec generates from the granite IR) and the runtime.
   The generated object defines these functions; the runtime calls them. Nothing else crosses the boundary. */
#ifndef GRANITE_RUNTIME_MODEL_ABI_H
#define GRANITE_RUNTIME_MODEL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GRANITE_MODEL_ABI_VERSION 4

/* One range of the state. Per-position ranges hold [context_length][bytes_per_position] (the keys or the values of one
   attention layer's KV cache): position p's entry depends on the ids at positions 0..p only, so the first p entries
   are the state of a p-token prefix. A recurrent range (bytes_per_position 0: a Mamba2 conv or SSM state) holds the
   whole sequence's summary and cannot be rolled back. */
typedef struct GraniteStateRegion {
  uint64_t offset;             /* from the start of the state */
  uint64_t bytes;              /* the whole range */
  uint64_t bytes_per_position; /* 0: a recurrent state */
} GraniteStateRegion;

/* Facts about the compiled model: a constant emitted by granitec. */
typedef struct GraniteModelInfo {
  uint32_t abi_version;       /* GRANITE_MODEL_ABI_VERSION */
  int32_t vocab_size;         /* logits per token (padded vocabulary) */
  int32_t context_length;     /* positions the state holds */
  int32_t max_tokens;         /* most tokens one granite_forward call accepts */
  uint64_t state_bytes;       /* KV caches and conv/SSM states; all zero = empty sequence */
  uint64_t scratch_bytes;     /* activation arena for max_tokens tokens */
  uint64_t weights_bytes;     /* size of the weight blob granite_forward reads */
  const char *variant;        /* "h-350m", ..., or "custom" */
  const char *target;         /* CPU family the kernels are scheduled for */
  const char *weight_types;   /* human-readable summary, e.g. "BF16 x123, F32 x200" */
  const char *build_id;       /* identifies the compilation (model, target, granitec version) */
  int32_t default_threads;    /* granitec compile --threads; 0: one per CPU */
  int32_t state_region_count; /* the ranges of the state, ascending, covering every byte used */
  const GraniteStateRegion *state_regions;
  const char *required_features; /* "avx2,fma,...": the CPU features the code may use (runtime/CpuFeatures.h names) */
  const char *other_targets;     /* "name:feature,...;...": the architecture's other families, most capable first */
} GraniteModelInfo;

/* granite_model_info returns an address and runs nothing else, so every CPU of the architecture can call it: the
   runtime reads required_features before any other code compiled for the family runs. */

const GraniteModelInfo *granite_model_info(void);

/* One parallel loop: runs task(user_context, i, closure) for every i in [min, min + extent), in any order and on any
   threads, and returns 0 or a nonzero task result. The same signature as Halide's halide_do_par_for_t. */
typedef int (*GraniteTask)(void *user_context, int index, uint8_t *closure);
typedef int (*GraniteParallelFor)(void *user_context, GraniteTask task, int min, int extent, uint8_t *closure);

/* Makes the kernels run their parallel loops through `parallel_for` (the runtime's thread pool) from now on.
   Until then they use the kernels' own pool, whose size granite_set_threads sets. */
void granite_set_parallel_for(GraniteParallelFor parallel_for);

/* Number of threads of the kernels' own pool (0: one per CPU); returns the value in effect. */
int32_t granite_set_threads(int32_t threads);

/* Runs `count` tokens (1..max_tokens) at positions start..start+count-1, reading and updating `state`.
   `weights` is the weight blob (weights_bytes, 64-byte aligned), `scratch` holds scratch_bytes.
   Logits are divided by the logit scale. With all_logits != 0 it writes [count][vocab_size] floats, else only
   the last token's [vocab_size]. Returns 0, or a nonzero kernel error code. */
int32_t granite_forward(const uint8_t *weights, uint8_t *state, uint8_t *scratch, const int32_t *ids, int32_t count,
                        int32_t start, int32_t all_logits, float *logits);

#ifdef __cplusplus
}
#endif

#endif
