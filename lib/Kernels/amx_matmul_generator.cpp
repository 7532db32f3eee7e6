// The prefill product y = W x on Intel AMX (x86-64-amx): `amx_matmul`, which KernelCache runs in
// place of `matmul` where the family's `amxMatmul` is set and the weight type has an AMX form
// (docs/kernels.md, "AMX"). Same parameters, inputs and outputs as linear_generator's `matmul`, so
// the lowering and the ABI do not change.
//
// Halide 14 emits AMX tile instructions for a reduction stored in MemoryType::AMXTile whose update
// is exactly `C(col, row) += f32(A(k, row)) * f32(B(k % 2, col, k / 2))` (bf16 operands), vectorized
// over one 32-bit group of k, the columns and the rows (its ExtractTileOperations pass; Halide's
// test/correctness/tiled_matmul.cpp). Here the rows are the weight rows n (A: the weights, k
// innermost, as stored) and the columns the tokens t (B: the activations rounded to bf16, in the
// "VNNI" layout B(k % 2, t, k / 2)), so one tile is C(t, n): tile_tokens x tile_rows, at most
// 16 x 16 f32. The tile is stored to memory once per register tile and transposed into y(n, t).
//
// Halide 14 loads B as one tile row, so each tdpbf16ps multiplies one pair of k (A: 4 bytes per
// row, B: 1 row of 4 * tile_tokens bytes), not the 32 that the instruction could take: see
// docs/kernels.md for the evidence and what that means for its speed.
#include "Kernels/ScheduleUtil.h"
#include "Kernels/WeightFormat.h"

namespace {

using namespace Halide;
using granite::GGMLType;

class AmxMatmul : public Generator<AmxMatmul> {
public:
  // The parameters of linear_generator's `matmul`, by name and meaning; the ones this product has
  // no use for (vector_width, quantized_dot, prefetch_blocks) are accepted and checked.
  GeneratorParam<GGMLType> weight_type{"weight_type", GGMLType::BF16, granite::kernels::weightTypeNames()};
  GeneratorParam<int> in_features{"in_features", 256};   // K
  GeneratorParam<int> out_features{"out_features", 256}; // N
  GeneratorParam<float> output_divisor{"output_divisor", 1.0f};
  GeneratorParam<float> output_scale{"output_scale", 1.0f};
  /// Must be true: AMX-BF16 multiplies BF16 activations, llama.cpp's BF16 numerics (as matmul's bf16_dot).
  GeneratorParam<bool> bf16_dot{"bf16_dot", true};
  GeneratorParam<bool> quantized_dot{"quantized_dot", false};
  GeneratorParam<int> vector_width{"vector_width", 0};
  /// Weight rows of one tile (AMX tile rows, at most 16).
  GeneratorParam<int> tile_rows{"tile_rows", 16};
  /// Tokens of one tile (AMX tile columns: at most 16 f32).
  GeneratorParam<int> tile_tokens{"tile_tokens", 16};
  /// Rows of one parallel task, a multiple of tile_rows (0: one tile). The task's rows are converted to a bf16
  /// scratch copy once, then every token tile sweeps them.
  GeneratorParam<int> rows_per_task{"rows_per_task", 0};
  GeneratorParam<int> prefetch_blocks{"prefetch_blocks", 0};
  /// false: the same algorithm and loop nest without the AMX tile storage, so ordinary vector code. Only for the
  /// tests, which check its arithmetic on CPUs without AMX (test/Kernels/CMakeLists.txt); granitec never sets it.
  GeneratorParam<bool> amx_tiles{"amx_tiles", true};

  Input<Buffer<>> weights{"weights", 2};
  Input<Buffer<float>> x{"x", 2};
  Output<Buffer<float>> y{"y", 2};

  void generate() {
    using granite::kernels::requireParam;
    const GGMLType type = weight_type;
    const int K = in_features;
    requireParam(type == GGMLType::BF16, "amx_matmul has an AMX form for bf16 weights only");
    requireParam(weights.type() == granite::kernels::weightStorageType(type),
                 "weights.type does not match weight_type");
    requireParam(bf16_dot, "amx_matmul multiplies BF16 activations: it needs bf16_dot=true");
    requireParam(!quantized_dot, "quantized_dot needs block-quantized weights");
    requireParam(K % 2 == 0, "amx_matmul needs an even in_features (one AMX-BF16 step is a pair of k)");
    requireParam(tile_rows >= 1 && tile_rows <= 16, "tile_rows must be 1 to 16 (AMX tile rows)");
    requireParam(tile_tokens >= 1 && tile_tokens <= 16, "tile_tokens must be 1 to 16 (64-byte AMX tile rows)");

    // The operands as AMX reads them. A: the weight rows as bf16 (the same bits, k innermost); a
    // copy per task, because the tile pattern needs loads of bf16, and the uint16 input is not one.
    // Rows past N read the last row: their results are never stored.
    weightTile = Func("weight_bf16");
    weightTile(k, n) = reinterpret(BFloat(16), weights(k, clamp(n, 0, int(out_features) - 1)));
    // B: the activations rounded to bf16 exactly as matmul's bf16_dot path rounds them
    // (cast<bfloat16>, round to nearest even), pair-interleaved: B(p, t, kk) = x(2 kk + p, t).
    activationPairs = Func("activation_vnni");
    activationPairs(p, t, kk) = cast(BFloat(16), x(2 * kk + p, clamp(t, 0, x.dim(1).extent() - 1)));

    // The tile: C(t, n) = sum_k A(k, n) B(k % 2, t, k / 2), in AMX tile registers.
    r = RDom(0, K, "r");
    tile = Func("amx_tile");
    tile(t, n) = 0.0f;
    tile(t, n) += cast<float>(cast<float>(weightTile(r, n))) * cast<float>(activationPairs(r % 2, t, r / 2));
    tileOut = tile.in();

    Expr total = tileOut(t, n);
    if (float(output_divisor) != 1.0f) total = total / float(output_divisor);
    if (float(output_scale) != 1.0f) total = float(output_scale) * total;
    y(n, t) = total;
  }

  void schedule() {
    const int N = out_features;
    const int rows = tile_rows, tokens = tile_tokens;
    const int taskRows = rows_per_task > 0 ? int(rows_per_task) : rows;
    granite::kernels::requireParam(taskRows % rows == 0, "rows_per_task must be a multiple of tile_rows");
    y.dim(0).set_bounds(0, N);
    weights.dim(1).set_bounds(0, N);
    x.dim(0).set_bounds(0, int(in_features));

    // As matmul: each parallel task sweeps its row tiles with every token tile in turn.
    Var task("task"), no("no"), ni("ni"), to("to"), ti("ti");
    y.split(n, task, n, taskRows, TailStrategy::GuardWithIf)
        .split(n, no, ni, rows, TailStrategy::GuardWithIf)
        .split(t, to, ti, tokens, TailStrategy::GuardWithIf)
        .reorder(ni, ti, no, to, task)
        .parallel(task)
        .vectorize(ni);
    activationPairs.compute_root().vectorize(p).vectorize(t, 8, TailStrategy::GuardWithIf);
    weightTile.compute_at(y, task).vectorize(k, 32, TailStrategy::GuardWithIf);

    // One whole tile per register tile of y, also at the last rows and tokens (the operands above
    // are clamped): the tile's extents must be constants for the AMX pattern.
    // Its rows are padded to twice the tile's width: Halide 14 recognizes the tile store only with a 2-D index,
    // which a dense 16 x 16 buffer would flatten to one ramp.
    tileOut.compute_at(y, no)
        .bound_extent(t, tokens)
        .bound_extent(n, rows)
        .align_storage(t, 2 * tokens)
        .vectorize(t)
        .vectorize(n);
    tile.compute_at(y, no).bound_extent(t, tokens).bound_extent(n, rows);
    if (amx_tiles) tile.store_in(MemoryType::AMXTile);
    tile.vectorize(t).vectorize(n);
    RVar ro("ro"), ri("ri");
    tile.update().split(r, ro, ri, 2).reorder(ri, t, n, ro).atomic().vectorize(ri).vectorize(t).vectorize(n);
  }

private:
  Var n{"n"}, t{"t"}, k{"k"}, p{"p"}, kk{"kk"};
  RDom r;
  Func weightTile, activationPairs, tile, tileOut;
};

} // namespace

HALIDE_REGISTER_GENERATOR(AmxMatmul, amx_matmul)
