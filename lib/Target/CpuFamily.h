// CPU families granitec compiles for: each names one Halide target (for the kernels), one LLVM
// triple/CPU/feature set (for the code the compiler emits around them) and the schedule defaults
// the kernel generators start from. Plain C++: no Halide or LLVM headers, so any layer can use it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace granite::target {

/// Starting values for the tunable schedule knobs of the kernel generators (see docs/kernels.md).
/// A tuner overrides them per kernel instance through the generator parameters of the same name.
struct ScheduleDefaults {
  int vectorWidth = 8;   ///< f32 lanes of one vector register (the `vector_width` knob).
  int streamLanes = 16;  ///< F32/F16/BF16 matrix-vector product: lanes of its one-row accumulator (`vector_width`).
  int decodeRows = 4;    ///< block-quantized matrix-vector product: rows accumulated at once (`tile_rows`).
  int prefillRows = 4;   ///< rows of W per register tile of the matrix-matrix product (`tile_rows`).
  int prefillTokens = 4; ///< tokens per register tile of the matrix-matrix product (`tile_tokens`).
  /// Block-quantized products (Q8_0/Q4_K/Q6_K): quantize the activations as llama.cpp does and
  /// use integer dot products (`quantized_dot`). Only where the CPU has a u8 x s8 dot product
  /// (VNNI); elsewhere the products keep f32 activations.
  bool quantizedDot = false;
  /// With quantizedDot, the matrix-matrix product's register tile (`tile_rows`, `tile_tokens`): one weight row per
  /// i32 lane (lib/Kernels/WeightFormat.h), `tile_rows` in groups of 16 rows. Per (group, token) it holds the
  /// K-quants' f32 sum and two i32 sums (each token's quants broadcast once for all groups), but Q8_0's 8 f32 sums
  /// (llama.cpp's order), so Q8_0 takes one group and fewer tokens.
  int quantizedRowGroups = 2;
  int quantizedDotTokens = 4;
  int q8_0RowGroups = 1;
  int q8_0Tokens = 2;
  /// With quantizedDot, a Q4_K/Q6_K matmul's parallel task (`rows_per_task`) is this many register tiles of rows,
  /// instead of prefillTaskBytes: the task unpacks its rows' codes into a byte each (K bytes per row), which then
  /// stay in L2 beside the activations of every token tile (measured on Zen 5, K=2560, one tile of 32 rows against
  /// 128 rows: at 128 tokens Q4_K +2-3% and Q6_K +8-12% in bench-kernels, unchanged at 512).
  int kQuantTaskTiles = 1;
  /// BF16 products: round the activations to BF16 and multiply pairs with vdpbf16ps (`bf16_dot`),
  /// as llama.cpp does. Twice the prefill FLOP/s of f32 activations; only where the CPU has it.
  bool bf16Dot = false;
  /// Prefill products (`matmul`) of the weight types with an AMX form run as the AMX tile product `amx_matmul`
  /// (lib/Kernels/amx_matmul_generator.cpp; KernelCache picks it): BF16 weights through AMX-BF16. Only where the
  /// CPU has AMX (x86-64-amx); a one-token call still runs `matvec`.
  bool amxMatmul = false;
  /// With amxMatmul: the AMX tile of `amx_matmul`, weight rows x tokens (`tile_rows`, `tile_tokens`; at most 16 x 16).
  int amxRows = 16;
  int amxTokens = 16;
  /// Matrix-matrix product: weight bytes of one parallel task (`rows_per_task`, in rows of the weight). They stay
  /// in L2 while every token tile sweeps them, so that a token tile's activations are read once per task from L2
  /// and then from L1, instead of once per register tile (measured on Zen 5: +20% bf16, +40% Q4_K at 512 tokens,
  /// docs/kernels.md). A quarter of a 1 MiB L2; families with smaller L2s take less.
  int64_t prefillTaskBytes = 256 << 10;
  /// What `granitec tune` tries per knob (lib/Kernels/Tuning.cpp says which knobs each product
  /// takes); the values above are its starting point.
  std::vector<int> vectorWidthChoices = {8, 16, 32};
  std::vector<int> tileRowsChoices = {1, 2, 4, 8};
  std::vector<int> tileTokensChoices = {2, 4, 6, 8};
  std::vector<int> prefetchBlocksChoices = {0, 8, 16, 32, 64};
  /// Decode products: rows_per_task = rows / this (the generator's default is 16 tasks).
  std::vector<int> taskSplitChoices = {4, 8, 32, 64};
};

struct CpuFamily {
  std::string name;                 ///< e.g. "x86-64-avx512-bf16"
  std::string summary;              ///< one line for `granitec targets`
  std::vector<std::string> aliases; ///< CPU names that select this family, e.g. "znver4"
  /// Every CPU feature the family's code may use (runtime/CpuFeatures.h names): the Halide
  /// target's and those LLVM's CPU (llvmCpu, and the kernels' own CPU) emits in plain code.
  /// The executable refuses to start on a CPU that lacks one.
  std::vector<std::string> requiredFeatures;
  std::string halideTarget; ///< full Halide 14 target string (OS included)
  std::string llvmTriple;
  std::string llvmCpu;
  std::string llvmFeatures; ///< comma separated, "+feature" form
  ScheduleDefaults defaults;
  /// Halide 14 compiles its avx512_sapphirerapids feature with LLVM's -mcpu=sapphirerapids, whose extensions not all
  /// of the family's CPUs have. For such a family the kernels are emitted as LLVM bitcode and compiled by llc 14 with
  /// -mcpu=sapphirerapids and this -mattr list (lib/Kernels/KernelCache.cpp); "" where Halide's own codegen is used.
  std::string kernelLlcAttributes;
};

/// Every family granitec knows, in a fixed order.
const std::vector<CpuFamily> &allFamilies();

/// The family named `nameOrAlias` ("host" resolves to hostFamily()), or nullptr.
const CpuFamily *findFamily(std::string_view nameOrAlias);

/// The most capable family the running CPU supports (cpuid on x86-64, hwcaps on aarch64). Throws
/// std::runtime_error, naming what the CPU lacks, when it runs none.
const CpuFamily &hostFamily();

/// True when the running CPU can execute code compiled for `family`.
bool hostCanRun(const CpuFamily &family);

/// The first of `family`'s required features the running CPU lacks, or "" when it has them all.
std::string hostMissingFeature(const CpuFamily &family);

/// "avx,avx2,...": `family.requiredFeatures` as the ABI carries them (GraniteModelInfo::required_features).
std::string joinedFeatures(const CpuFamily &family);

/// "name:feature,...;name:...": the other families of `family`'s architecture, most capable first
/// (GraniteModelInfo::other_targets), from which an executable names the one to compile for.
std::string otherTargets(const CpuFamily &family);

/// "host, x86-64-avx2, x86-64-v3, ...": every name --target takes, for one-line errors.
std::string validTargetNames();

} // namespace granite::target
