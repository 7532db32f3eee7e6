// Linear layers y = W x with W in any GGUF weight type: `matvec` (decode, one token), `matmul`
// (prefill, a runtime number of tokens) and `expert_matvec` (decode through the experts that
// expert_ids selects from an ne = [K, N, E] tensor). W has ne = [K, N]: N rows of K contiguous
// elements/blocks.
//
// Both products accumulate `partial(lane, row, token)`: one f32 vector per (row, token) whose lanes
// walk K in steps of the vector width, so every weight and activation load is a contiguous vector
// and the horizontal sum happens once per output. Register tiles of tile_rows x tile_tokens
// accumulators hide the FMA latency. Quantized weights are decoded inside that loop (matvec) or,
// for matmul, into a scratch tile of tile_rows decoded rows that all token tiles then reuse.
#include "Kernels/ScheduleUtil.h"
#include "Kernels/WeightFormat.h"

#include <functional>
#include <type_traits>

namespace {

using namespace Halide;
using granite::kernels::WeightType;

enum class Product { Decode, Prefill, ExpertDecode };

/// Stands in for the expert_ids input in the modes that have none (it adds no argument).
struct NoInput {
  NoInput(const char *, int) {}
};

template <Product Mode>
class Linear : public Generator<Linear<Mode>> {
  static constexpr bool Prefill = Mode == Product::Prefill;
  static constexpr bool Experts = Mode == Product::ExpertDecode;

public:
  template <typename T> using GeneratorParam = Halide::GeneratorParam<T>;
  template <typename T> using Input = Halide::GeneratorInput<T>;
  template <typename T> using Output = Halide::GeneratorOutput<T>;

  GeneratorParam<WeightType> weight_type{"weight_type", WeightType::F32,
                                         granite::kernels::weightTypeNames()};
  GeneratorParam<int> in_features{"in_features", 256};   // K
  GeneratorParam<int> out_features{"out_features", 256}; // N
  GeneratorParam<int> experts{"experts", 8}; // expert_matvec: matrices in the weights tensor
  GeneratorParam<int> slots{"slots", 2};     // expert_matvec: selected experts per call
  /// The product is divided by this constant (the lm head's logit scale); 1 leaves it alone.
  GeneratorParam<float> output_divisor{"output_divisor", 1.0f};
  /// BF16 weights only: round the activations to BF16 too and multiply pairs with vdpbf16ps
  /// (AVX512-BF16). Changes the numerics (x loses 16 mantissa bits), as llama.cpp's BF16 path.
  GeneratorParam<bool> bf16_dot{"bf16_dot", false};
  // Schedule knobs (defaults come from lib/Target's family when instantiated through the API).
  GeneratorParam<int> vector_width{"vector_width", 0}; // 0: the target's natural f32 width
  GeneratorParam<int> tile_rows{"tile_rows", 4};
  GeneratorParam<int> tile_tokens{"tile_tokens", 4}; // matmul only
  GeneratorParam<int> rows_per_task{"rows_per_task", 0}; // 0: a sixteenth of the rows

  // Element type set from weight_type through the `weights.type` parameter (see docs/kernels.md).
  Input<Buffer<>> weights{"weights", Experts ? 3 : 2};
  std::conditional_t<Experts, Input<Buffer<int32_t>>, NoInput> expert_ids{"expert_ids", 1};
  Input<Buffer<float>> x{"x", Prefill ? 2 : 1};
  Output<Buffer<float>> y{"y", Prefill ? 2 : 1};

  void generate() {
    const WeightType type = weight_type;
    const int K = in_features;
    const int N = outputRows();
    const auto geometry = granite::kernels::blockGeometry(type);
    granite::kernels::requireParam(weights.type() == granite::kernels::weightStorageType(type),
                                   "weights.type does not match weight_type");
    granite::kernels::requireParam(K % geometry.elements == 0,
                                   "in_features must be a multiple of the block size");
    lanes = granite::kernels::f32Lanes(this->get_target(), vector_width);
    granite::kernels::requireParam(!granite::kernels::isBlockQuantized(type) || 32 % lanes == 0,
                                   "vector_width must divide 32 for block-quantized weights");

    // Tiles may hang over the last row and token: those lanes read clamped (valid) data and are
    // never stored, so the tile bodies stay branch-free.
    Func activation("activation");
    Var k("k");
    if (Prefill)
      activation(k, t) = x(k, clamp(t, 0, x.dim(1).extent() - 1));
    else
      activation(k) = x(k);
    auto act = [&](Expr kk) {
      return Prefill ? activation(kk, t) : activation(kk);
    };
    auto args = [&](Expr first, Expr row) {
      std::vector<Expr> a{first, row};
      if (Prefill)
        a.push_back(t);
      return a;
    };
    Expr clampedRow = clamp(n, 0, N - 1);
    // expert_matvec computes slots * out_features virtual rows: row v is row v % out_features
    // of expert expert_ids[v / out_features], so only the selected experts are read.
    Func bytes("weight_bytes");
    if constexpr (Experts) {
      Var offset("offset"), virtualRow("virtual_row");
      const int rowsPerExpert = out_features;
      Expr expert = clamp(expert_ids(virtualRow / rowsPerExpert), 0, int(experts) - 1);
      bytes(offset, virtualRow) = weights(offset, virtualRow % rowsPerExpert, expert);
    } else {
      bytes = weights;
    }

    std::vector<Var> partialVars{lane, n};
    if (Prefill)
      partialVars.push_back(t);
    partial = Func("partial");
    partial(partialVars) = 0.0f;
    Expr tail = 0.0f;
    if (granite::kernels::isBlockQuantized(type)) {
      const int subBlocks = geometry.elements / 32, blocks = K / geometry.elements;
      // r.x: which vector of the 32-element sub-block, r.y: sub-block, r.z: block.
      r = RDom(0, 32 / lanes, 0, subBlocks, 0, blocks, "r");
      Expr laneInSub = r.x * lanes + lane;
      Expr element = r.z * geometry.elements + r.y * 32 + laneInSub;
      Expr weight;
      if (Prefill) {
        Var l("l"), j("j"), b("b");
        decoded = Func("decoded");
        decoded(l, j, b, n) =
            granite::kernels::decodeBlockElement(type, bytes, l, j, b, clampedRow);
        decodedLane = l;
        decodedSub = j;
        weight = decoded(laneInSub, r.y, r.z, n);
      } else {
        // Per-group scales (and Q4_K offsets) are decoded as vectors into a per-row-tile table.
        Var group("group"), block("block");
        groupScale = Func("group_scale");
        groupScale(group, block, n) =
            granite::kernels::groupScale(type, bytes, group, block, clampedRow);
        scaleGroup = group;
        Expr groupOfLane = 2 * r.y + laneInSub / 16;
        weight = groupScale(groupOfLane, r.z, n) *
                 granite::kernels::blockQuant(type, bytes, laneInSub, r.y, r.z, clampedRow);
        if (granite::kernels::hasGroupOffset(type)) {
          groupOffset = Func("group_offset");
          groupOffset(group, block, n) =
              granite::kernels::groupOffset(type, bytes, group, block, clampedRow);
          weight -= groupOffset(groupOfLane, r.z, n);
        }
      }
      partial(partialVars) += weight * act(element);
    } else {
      // With bf16_dot, r.x walks the pair of K elements that one vdpbf16ps lane multiplies.
      const int pairWidth = bf16_dot ? 2 : 1;
      const int vectors = K / (lanes * pairWidth), covered = vectors * lanes * pairWidth;
      std::function<Expr(Expr)> activationValue = act;
      if (bf16_dot) {
        granite::kernels::requireParam(type == WeightType::BF16, "bf16_dot needs bf16 weights");
        activationBf16 = Func("activation_bf16");
        Var kk("kk");
        if (Prefill)
          activationBf16(kk, t) = cast(BFloat(16), activation(kk, t));
        else
          activationBf16(kk) = cast(BFloat(16), activation(kk));
        activationValue = [&](Expr kk) {
          return cast<float>(Prefill ? activationBf16(kk, t) : activationBf16(kk));
        };
      }
      r = RDom(0, pairWidth, 0, 1, 0, vectors, "r");
      Expr element = (r.z * lanes + lane) * pairWidth + r.x;
      Expr weight = bf16_dot ? cast<float>(reinterpret(BFloat(16), bytes(element, clampedRow)))
                             : granite::kernels::decodeFloatElement(type, bytes, element, clampedRow);
      partial(partialVars) += weight * activationValue(element);
      if (K != covered) {
        RDom rest(covered, K - covered, "rest");
        tail = sum(granite::kernels::decodeFloatElement(type, bytes, rest, clampedRow) *
                   activationValue(rest));
      }
    }
    // The lanes are summed as a vector reduction (a shuffle tree), not a serial scalar chain.
    RDom acrossLanes(0, lanes, "across_lanes");
    std::vector<Var> outVars{n};
    if (Prefill)
      outVars.push_back(t);
    laneSum = Func("lane_sum");
    laneSum(outVars) = 0.0f;
    laneSum(outVars) += partial(args(acrossLanes, n));
    reductionLanes = acrossLanes;
    Expr total = laneSum(outVars) + tail;
    if (float(output_divisor) != 1.0f)
      total = total / float(output_divisor);
    if (Prefill)
      y(n, t) = total;
    else
      y(n) = total;
  }

  void schedule() {
    const int N = outputRows();
    const int rows = std::min<int>(tile_rows, N);
    y.dim(0).set_bounds(0, N);
    weights.dim(1).set_bounds(0, out_features);
    if constexpr (Experts) {
      weights.dim(2).set_bounds(0, experts);
      expert_ids.dim(0).set_bounds(0, slots);
    }
    if (Prefill) {
      const int tokens = tile_tokens;
      Var no("no"), ni("ni"), to("to"), ti("ti");
      y.split(n, no, ni, rows, TailStrategy::GuardWithIf)
          .split(t, to, ti, tokens, TailStrategy::GuardWithIf)
          .reorder(ni, ti, to, no)
          .parallel(no);
      if (decoded.defined()) // decode each row tile once, reuse it for every token tile
        decoded.compute_at(y, no).vectorize(decodedLane, lanes).unroll(decodedSub);
      partial.compute_at(y, to).bound_extent(n, rows).bound_extent(t, tokens);
      partial.vectorize(lane).unroll(n).unroll(t);
      if (bf16_dot) {
        // r.x (the pair) innermost and atomic: Halide matches the pair sum to vdpbf16ps.
        activationBf16.compute_root();
        partial.update().reorder(r.x, lane, n, t, r.y, r.z).atomic().vectorize(r.x).vectorize(lane).unroll(n).unroll(t);
      } else {
        partial.update().reorder(lane, n, t, r.x, r.y, r.z).vectorize(lane).unroll(n).unroll(t).unroll(r.x);
      }
      laneSum.compute_at(y, ti).update().atomic().vectorize(reductionLanes.x);
    } else {
      Var task("task"), inTask("in_task"), no("no"), ni("ni");
      // Sixteen tasks by default: few enough that each streams a long run of contiguous rows
      // (the hardware prefetchers need that), enough to balance up to 16 threads.
      const int taskRows = rows_per_task > 0 ? int(rows_per_task) : (N + 15) / 16;
      y.split(n, task, inTask, std::max<int>(rows, taskRows), TailStrategy::GuardWithIf)
          .parallel(task)
          .split(inTask, no, ni, rows, TailStrategy::GuardWithIf);
      partial.compute_at(y, no).bound_extent(n, rows);
      partial.vectorize(lane).unroll(n);
      if (bf16_dot) {
        activationBf16.compute_root();
        partial.update().reorder(r.x, lane, n, r.y, r.z).atomic().vectorize(r.x).vectorize(lane).unroll(n);
      } else {
        partial.update().reorder(lane, n, r.x, r.y, r.z).vectorize(lane).unroll(n).unroll(r.x).unroll(r.y);
      }
      laneSum.compute_at(y, ni).update().atomic().vectorize(reductionLanes.x);
      const int groups = granite::kernels::scaleGroups(weight_type);
      for (Func table : {groupScale, groupOffset}) {
        if (!table.defined())
          continue;
        // Decoded for the whole row tile before its reduction: indexed by the block loop, the
        // table stays in memory, and each use is one broadcast load folded into the FMA.
        table.compute_at(y, no);
        if (groups >= lanes)
          table.vectorize(scaleGroup, lanes);
      }
    }
  }

private:
  int outputRows() const { return Experts ? int(out_features) * int(slots) : int(out_features); }

  Var lane{"lane"}, n{"n"}, t{"t"};
  Var decodedLane, decodedSub, scaleGroup;
  RDom r, reductionLanes;
  Func partial, decoded, laneSum, groupScale, groupOffset, activationBf16;
  int lanes = 8;
};

} // namespace

using Matvec = Linear<Product::Decode>;
using Matmul = Linear<Product::Prefill>;
using ExpertMatvec = Linear<Product::ExpertDecode>;
HALIDE_REGISTER_GENERATOR(Matvec, matvec)
HALIDE_REGISTER_GENERATOR(Matmul, matmul)
HALIDE_REGISTER_GENERATOR(ExpertMatvec, expert_matvec)
