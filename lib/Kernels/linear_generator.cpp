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
using granite::GGMLType;

enum class Product { Decode, Prefill, ExpertDecode };

/// Stands in for the expert_ids input in the modes that have none (it adds no argument).
struct NoInput {
  NoInput(const char *, int) {}
};

template <Product Mode> class Linear : public Generator<Linear<Mode>> {
  static constexpr bool Prefill = Mode == Product::Prefill;
  static constexpr bool Experts = Mode == Product::ExpertDecode;

public:
  template <typename T> using GeneratorParam = Halide::GeneratorParam<T>;
  template <typename T> using Input = Halide::GeneratorInput<T>;
  template <typename T> using Output = Halide::GeneratorOutput<T>;

  GeneratorParam<GGMLType> weight_type{"weight_type", GGMLType::F32, granite::kernels::weightTypeNames()};
  GeneratorParam<int> in_features{"in_features", 256};   // K
  GeneratorParam<int> out_features{"out_features", 256}; // N
  GeneratorParam<int> experts{"experts", 8};             // expert_matvec: matrices in the weights tensor
  GeneratorParam<int> slots{"slots", 2};                 // expert_matvec: selected experts per call
  /// The product is divided by this constant (the lm head's logit scale); 1 leaves it alone.
  GeneratorParam<float> output_divisor{"output_divisor", 1.0f};
  /// The product is then multiplied by this constant (granite.linear's output_scale, the residual
  /// multiplier folded into the epilogue); 1 leaves it alone.
  GeneratorParam<float> output_scale{"output_scale", 1.0f};
  /// BF16 weights only: round the activations to BF16 too and multiply pairs with vdpbf16ps
  /// (AVX512-BF16). Changes the numerics (x loses 16 mantissa bits), as llama.cpp's BF16 path.
  GeneratorParam<bool> bf16_dot{"bf16_dot", false};
  /// Block-quantized weights only: quantize the activations as ggml does (Q8_0 per 32 for Q8_0
  /// weights, Q8_K per 256 for Q4_K/Q6_K) and multiply with integer dot products per 32-element
  /// sub-block (VNNI vpdpbusd where the target has it): llama.cpp's numerics. matvec and matmul
  /// run the same arithmetic in the same order, so prefill and decode agree bit for bit.
  GeneratorParam<bool> quantized_dot{"quantized_dot", false};
  // Schedule knobs (defaults come from lib/Target's family when instantiated through the API).
  GeneratorParam<int> vector_width{"vector_width", 0}; // 0: the target's natural f32 width
  GeneratorParam<int> tile_rows{"tile_rows", 4};
  GeneratorParam<int> tile_tokens{"tile_tokens", 4}; // matmul only
  /// Rows of one parallel task. matvec: 0 is a sixteenth of the rows. matmul: a multiple of tile_rows, 0 is one
  /// register tile; each token tile sweeps the task's row tiles while its activations stay in L1 and the task's
  /// weights in L2.
  GeneratorParam<int> rows_per_task{"rows_per_task", 0};
  /// quantized_dot matvec: software-prefetch the weights of this many blocks ahead (0: none).
  GeneratorParam<int> prefetch_blocks{"prefetch_blocks", 0};

  // Element type set from weight_type through the `weights.type` parameter (see docs/kernels.md).
  Input<Buffer<>> weights{"weights", Experts ? 3 : 2};
  std::conditional_t<Experts, Input<Buffer<int32_t>>, NoInput> expert_ids{"expert_ids", 1};
  Input<Buffer<float>> x{"x", Prefill ? 2 : 1};
  Output<Buffer<float>> y{"y", Prefill ? 2 : 1};

  void generate() {
    const GGMLType type = weight_type;
    const int K = in_features;
    const int N = outputRows();
    const granite::GGMLTypeTraits &format = granite::traitsOf(type);
    const int blockElements = int(format.blockElements);
    granite::kernels::requireParam(weights.type() == granite::kernels::weightStorageType(type),
                                   "weights.type does not match weight_type");
    granite::kernels::requireParam(K % blockElements == 0, "in_features must be a multiple of the block size");
    const bool intDot = quantized_dot;
    granite::kernels::requireParam(!intDot || format.quantized(), "quantized_dot needs block-quantized weights");
    // The integer path keeps one i32 lane per 4 products: 8 lanes cover a 32-element Q8_0 block,
    // 16 one step (a 512-bit vpdpbusd) of a K-quant block.
    lanes = !intDot ? granite::kernels::f32Lanes(this->get_target(), vector_width) : type == GGMLType::Q8_0 ? 8 : 16;
    granite::kernels::requireParam(!format.quantized() || 32 % lanes == 0,
                                   "vector_width must divide 32 for block-quantized weights");

    // Tiles may hang over the last row and token: those lanes read clamped (valid) data and are
    // never stored, so the tile bodies stay branch-free.
    Func activation("activation");
    Var k("k");
    if (Prefill)
      activation(k, t) = x(k, clamp(t, 0, x.dim(1).extent() - 1));
    else
      activation(k) = x(k);
    // With quantized_dot: the activations' quants xq (int8) and block scales dx, computed once
    // per call (per token for matmul) before the product.
    auto withToken = [&](std::vector<Expr> a) {
      if (Prefill) a.push_back(t);
      return a;
    };
    auto withTokenVar = [&](std::vector<Var> a) {
      if (Prefill) a.push_back(t);
      return a;
    };
    if (intDot) quantizeActivations(type, activation, withToken, withTokenVar);
    auto act = [&](Expr kk) -> Expr { return Prefill ? activation(kk, t) : activation(kk); };
    auto args = [&](Expr first, Expr row) {
      std::vector<Expr> a{first, row};
      if (Prefill) a.push_back(t);
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
    if (Prefill) partialVars.push_back(t);
    partial = Func("partial");
    partial(partialVars) = 0.0f;
    Expr tail = 0.0f;
    if (format.quantized()) {
      const int subBlocks = blockElements / 32, blocks = K / blockElements;
      // r.x: which vector of the 32-element sub-block, r.y: sub-block, r.z: block.
      r = RDom(0, 32 / lanes, 0, subBlocks, 0, blocks, "r");
      Expr laneInSub = r.x * lanes + lane;
      Expr element = r.z * blockElements + r.y * 32 + laneInSub;
      Expr weight;
      if (intDot && type == GGMLType::Q8_0 && Prefill) {
        defineQ8_0Matmul(bytes, blocks);
      } else if (intDot && type == GGMLType::Q8_0) {
        defineQ8_0Dot(bytes, clampedRow, blocks);
      } else if (intDot && Prefill) {
        defineKQuantMatmul(type, bytes, blocks);
      } else if (intDot) {
        defineKQuantDot(type, bytes, clampedRow, blocks);
      } else if (Prefill) {
        Var l("l"), j("j"), b("b");
        decoded = Func("decoded");
        decoded(l, j, b, n) = granite::kernels::decodeBlockElement(type, bytes, l, j, b, clampedRow);
        decodedLane = l;
        decodedSub = j;
        weight = decoded(laneInSub, r.y, r.z, n);
      } else {
        // Per-group scales (and Q4_K offsets) are decoded as vectors into a per-row-tile table.
        Var group("group"), block("block");
        groupScale = Func("group_scale");
        groupScale(group, block, n) = granite::kernels::groupScale(type, bytes, group, block, clampedRow);
        scaleGroup = group;
        if (type == GGMLType::Q4_K || type == GGMLType::Q6_K) {
          defineKQuantStorageOrder(type, bytes, clampedRow, blocks, activation);
        } else {
          Expr groupOfLane = 2 * r.y + laneInSub / 16;
          weight = groupScale(groupOfLane, r.z, n) *
                   granite::kernels::blockQuant(type, bytes, laneInSub, r.y, r.z, clampedRow);
        }
      }
      if (!intDot && weight.defined()) // the K-quants' f32 products define their own update
        partial(partialVars) += weight * act(element);
    } else {
      // With bf16_dot, r.x walks the pair of K elements that one vdpbf16ps lane multiplies.
      const int pairWidth = bf16_dot ? 2 : 1;
      const int vectors = K / (lanes * pairWidth), covered = vectors * lanes * pairWidth;
      std::function<Expr(Expr)> activationValue = act;
      if (bf16_dot) {
        granite::kernels::requireParam(type == GGMLType::BF16, "bf16_dot needs bf16 weights");
        activationBf16 = Func("activation_bf16");
        Var kk("kk");
        if (Prefill)
          activationBf16(kk, t) = cast(BFloat(16), activation(kk, t));
        else
          activationBf16(kk) = cast(BFloat(16), activation(kk));
        activationValue = [&](Expr kk) { return cast<float>(Prefill ? activationBf16(kk, t) : activationBf16(kk)); };
      }
      r = RDom(0, pairWidth, 0, 1, 0, vectors, "r");
      Expr element = (r.z * lanes + lane) * pairWidth + r.x;
      Expr weight = bf16_dot ? cast<float>(reinterpret(BFloat(16), bytes(element, clampedRow)))
                             : granite::kernels::decodeFloatElement(type, bytes, element, clampedRow);
      partial(partialVars) += weight * activationValue(element);
      if (K != covered) {
        RDom rest(covered, K - covered, "rest");
        tail = sum(granite::kernels::decodeFloatElement(type, bytes, rest, clampedRow) * activationValue(rest));
      }
    }
    Expr total;
    if (blockAcc.defined() || stepAcc.defined()) { // the quantized matmul: one row per lane, 16 rows per row group
      Expr g = n / kRowLanes, laneOfRow = clamp(n - rowGroupBase(g), 0, kRowLanes - 1);
      auto step = [&](int j) { return stepAcc(laneOfRow, j, g, t); };
      if (stepAcc.defined()) // Q8_0: the 8 sums added as ggml's hsum_float_8 adds a vector's lanes
        total = strict_float(((step(0) + step(4)) + (step(2) + step(6))) + ((step(1) + step(5)) + (step(3) + step(7))));
      else if (type == GGMLType::Q4_K)
        total = strict_float(blockAcc(laneOfRow, g, t) - minAcc(laneOfRow, g, t));
      else
        total = blockAcc(laneOfRow, g, t);
    } else {
      // The lanes are summed as a vector reduction (a shuffle tree), not a serial scalar chain.
      RDom acrossLanes(0, lanes, "across_lanes");
      std::vector<Var> outVars{n};
      if (Prefill) outVars.push_back(t);
      laneSum = Func("lane_sum");
      laneSum(outVars) = 0.0f;
      laneSum(outVars) += partial(args(acrossLanes, n));
      reductionLanes = acrossLanes;
      total = laneSum(outVars) + tail;
    }
    if (float(output_divisor) != 1.0f) total = total / float(output_divisor);
    if (float(output_scale) != 1.0f) total = float(output_scale) * total;
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
    if (actQuant.defined()) scheduleQuantizedActivations();
    if (Prefill) {
      const int tokens = tile_tokens;
      // The quantized integer product counts tile_rows in row groups (defineKQuantRowLanes, defineQ8_0Matmul).
      const bool rowLanes = blockAcc.defined() || stepAcc.defined();
      const int tileRows = rowLanes ? kRowLanes * int(tile_rows) : rows;
      // Each parallel task sweeps its row tiles with every token tile in turn: the token tile's activations
      // stay in L1 across the task's rows, the task's weights in L2 across the tokens.
      const int taskRows = rows_per_task > 0 ? int(rows_per_task) : tileRows;
      granite::kernels::requireParam(taskRows % tileRows == 0,
                                     "rows_per_task must be a multiple of the register tile's rows");
      Var task("task"), no("no"), ni("ni"), to("to"), ti("ti");
      y.split(n, task, n, taskRows, TailStrategy::GuardWithIf)
          .split(n, no, ni, tileRows, TailStrategy::GuardWithIf)
          .split(t, to, ti, tokens, TailStrategy::GuardWithIf)
          .reorder(ni, ti, no, to, task)
          .parallel(task);
      if (rowLanes) {
        y.vectorize(ni, kRowLanes, TailStrategy::GuardWithIf);
        if (stepAcc.defined())
          scheduleQ8_0Matmul(task, no, tile_rows, tokens);
        else
          scheduleKQuantMatmul(task, no, tile_rows, tokens);
        return;
      }
      if (decoded.defined()) // decode the task's rows once, reuse them for every token tile
        decoded.compute_at(y, task).vectorize(decodedLane, lanes).unroll(decodedSub);
      partial.compute_at(y, no).bound_extent(n, rows).bound_extent(t, tokens);
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
      if (laneQuant.defined()) {
        scheduleKQuantDot(no);
      } else if (dot.defined()) {
        // Each block's dot products for the tile's rows are computed right before their FMA and
        // stay in registers.
        partial.update(0).reorder(lane, n, r.x).vectorize(lane).unroll(n);
        dot.compute_at(partial, r.x).vectorize(lane).unroll(n);
        dot.update().reorder(dotReduction.x, lane, n).atomic().vectorize(dotReduction.x).vectorize(lane).unroll(n);
        scheduleQ8_0Tables(no, no);
      } else if (bf16_dot) {
        activationBf16.compute_root();
        partial.update().reorder(r.x, lane, n, r.y, r.z).atomic().vectorize(r.x).vectorize(lane).unroll(n);
      } else if (codeActivation.defined()) {
        codeActivation.compute_root().vectorize(codeActivationVar, lanes);
        vectorizeLaneRuns(partial.update(), std::min(lanes, 4))
            .reorder(inRun, laneRun, n, r.x, r.y, r.z)
            .unroll(n)
            .unroll(r.x)
            .unroll(r.y);
      } else {
        partial.update().reorder(lane, n, r.x, r.y, r.z).vectorize(lane).unroll(n).unroll(r.x).unroll(r.y);
      }
      if (dot.defined() && prefetch_blocks > 0)
        partial.update(0).prefetch(weights, r.x, r.x, int(prefetch_blocks), PrefetchBoundStrategy::NonFaulting);
      laneSum.compute_at(y, ni).update().atomic().vectorize(reductionLanes.x);
      const int groups = granite::kernels::scaleGroups(weight_type);
      for (Func table : {groupScale, groupOffset}) {
        if (!table.defined() || dot.defined()) continue;
        // Decoded for the whole row tile before its reduction: indexed by the block loop, the
        // table stays in memory, and each use is one broadcast load folded into the FMA.
        table.compute_at(y, no);
        if (groups >= lanes) table.vectorize(scaleGroup, lanes);
      }
    }
  }

private:
  int outputRows() const { return Experts ? int(out_features) * int(slots) : int(out_features); }

  /// The first row of row group g of the K-quants' matmul: groups of 16 consecutive rows, the last
  /// one moved back to end at the last row (it then overlaps its predecessor), so that every lane
  /// holds a real row and each 4-byte quad of a row group loads from 16 rows without clamping.
  Expr rowGroupBase(Expr g) const {
    const int N = outputRows();
    return N >= kRowLanes ? min(kRowLanes * g, N - kRowLanes) : kRowLanes * g;
  }

  /// The weight row that lane rowLane of row group rowGroup holds in the quantized matmul (the last row where
  /// fewer than 16 rows exist).
  Expr laneRow() const {
    Expr row = rowGroupBase(rowGroup) + rowLane;
    return outputRows() < kRowLanes ? min(row, outputRows() - 1) : row;
  }

  /// The fp16 at byte `offset` of `row` (a block's d or dmin), as f32.
  static Expr halfScale(Func bytes, Expr offset, Expr row) {
    Expr bits = cast<uint16_t>(bytes(offset, row)) | (cast<uint16_t>(bytes(offset + 1, row)) << 8);
    return cast<float>(reinterpret(Float(16), bits));
  }

  /// The K-quants' matmul builds its scale tables from rowHead(q, row lane, word, block, row group): byte
  /// q of 4-byte word `word` of the block's head (kQuantHead) in the lane's row. Like rowCode, one 4-byte load
  /// per row, word and block, 16 rows to a 64-byte vector, instead of a byte gather from 16 rows per table
  /// entry. Returned as a Func of (offset in the weight row, headRow()), so WeightFormat.h's accessors read it
  /// as they read the weights.
  Func defineRowHead(GGMLType type, Func bytes) {
    const int blockBytes = int(granite::traitsOf(type).blockBytes);
    const auto [start, count] = kQuantHead(type);
    Var q("q"), word("word"), b("b"), offset("offset"), taskRow("task_row");
    rowHead = Func("row_head");
    rowHead(q, rowLane, word, b, rowGroup) = bytes(b * blockBytes + start + 4 * word + q, laneRow());
    // The clamp only tells bounds inference that the accessors stay within the head.
    Expr inHead = clamp(offset % blockBytes - start, 0, count - 1);
    Func head("head");
    head(offset, taskRow) =
        rowHead(inHead % 4, taskRow % kRowLanes, inHead / 4, offset / blockBytes, taskRow / kRowLanes);
    return head;
  }
  /// The row index defineRowHead's Func takes for a row lane of a row group.
  Expr headRow() const { return rowLane + kRowLanes * rowGroup; }

  /// The bytes of a K-quant block that the matmul's tables read (first byte, count), whole 4-byte words within
  /// the block: Q4_K's d, dmin, scales and mins (kernel order); Q6_K's 16 scales and d, after 2 code bytes.
  static std::pair<int, int> kQuantHead(GGMLType type) {
    return type == GGMLType::Q4_K ? std::pair{0, 16} : std::pair{190, 20};
  }

  /// The quantized matmul's fp16 block scales by row lane: rowHalf(row lane, i, row group) is the i-th fp16
  /// scale (halfScaleOffset) of `row`, read from `bytes` (the weights, or defineRowHead's Func).
  void defineRowHalves(GGMLType type, Func bytes, Expr row) {
    Var i("i");
    rowHalf = Func("row_half");
    rowHalf(rowLane, i, rowGroup) = halfScale(bytes, granite::kernels::halfScaleOffset(type, i), row);
  }

  /// actQuant(k[, t]) (int8) and actScale(block[, t]) (f32): x quantized as ggml's
  /// quantize_row_q8_K_ref (blocks of 256: d = max / -127 with max the signed value of largest
  /// magnitude, q = nearest(x * -127/max) capped at 127) or, for Q8_0 weights, as its x86
  /// quantize_row_q8_0 (blocks of 32: q = nearest(x * 127/amax), d = fp16(amax/127)). Rounding
  /// is to nearest even (Halide's round). Q8_0: quadStart(q[, t]), where the integer dot of quad q
  /// starts: -128 * the sum of its 4 quants (the weight codes are the quants + 128), in matmul plus
  /// kF32IntBits (defineQ8_0Matmul). K-quants' matvec: laneQuant(quad, lane, step, b), the quants in the order the
  /// lanes multiply them (kQuantLaneElement), and laneQuantSum(lane, b), the sum of each lane's 16; their matmul:
  /// groupQuantSum(g, b, t), the sum of the quants of 16-element group g of block b.
  template <typename WithToken, typename WithTokenVar>
  void quantizeActivations(GGMLType type, Func activation, WithToken withToken, WithTokenVar withTokenVar) {
    using namespace granite::kernels;
    const int qb = activationBlock(type);
    Var a("a"), k("k"), q("q"), l("l");
    // The block's largest magnitude as the largest of 16 lane maxima: vector max instructions, not a scalar search.
    RDom steps(0, qb / kPeakLanes, "steps"), peakLanes(0, kPeakLanes, "peak_lanes");
    auto element = [&](Expr block, Expr lane) {
      return activation(withToken({block * qb + kPeakLanes * steps + lane}));
    };
    laneAbsMax = Func("lane_abs_max");
    laneAbsMax(withTokenVar({l, a})) = maximum(abs(element(a, l)));
    actAbsMax = Func("act_abs_max");
    actAbsMax(withTokenVar({a})) = maximum(laneAbsMax(withToken({peakLanes, a})));
    Func inverse("act_inverse_scale");
    if (type == GGMLType::Q8_0) {
      Expr amax = actAbsMax(withToken({a}));
      inverse(withTokenVar({a})) = select(amax == 0.0f, 0.0f, 127.0f / max(amax, 1e-30f));
      actScale = Func("act_scale");
      // ggml divides by 127; Halide would turn a division by a constant into a multiplication
      // anyway, so the kernel (and its reference test) multiplies by the f32 reciprocal.
      actScale(withTokenVar({a})) = cast<float>(cast<float16_t>(amax * (1.0f / 127.0f)));
    } else {
      // ggml keeps the sign of the first element of that magnitude: the lowest index that holds it, found alike.
      laneFirstPeak = Func("lane_first_peak");
      laneFirstPeak(withTokenVar({l, a})) =
          minimum(select(abs(element(a, l)) == actAbsMax(withToken({a})), kPeakLanes * steps + l, qb));
      actPeak = Func("act_peak");
      actPeak(withTokenVar({a})) = minimum(laneFirstPeak(withToken({peakLanes, a})));
      Expr peak = activation(withToken({a * qb + clamp(actPeak(withToken({a})), 0, qb - 1)}));
      inverse(withTokenVar({a})) = select(peak == 0.0f, 0.0f, -127.0f / select(peak == 0.0f, 1.0f, peak));
      actScale = Func("act_scale");
      Expr iscale = inverse(withToken({a}));
      actScale(withTokenVar({a})) = select(iscale == 0.0f, 0.0f, 1.0f / select(iscale == 0.0f, 1.0f, iscale));
    }
    actInverse = inverse;
    actQuant = Func("act_quant");
    actQuant(withTokenVar({k})) =
        cast<int8_t>(min(round(activation(withToken({k})) * inverse(withToken({k / qb}))), 127.0f));
    actQuantVar = k;
    if (type == GGMLType::Q8_0) {
      RDom r4(0, 4, "quad");
      quadStart = Func("quad_start");
      quadStart(withTokenVar({q})) =
          (Prefill ? kF32IntBits : 0) - codeBias(type) * sum(cast<int32_t>(actQuant(withToken({4 * q + r4}))));
      quadVar = q;
    } else if (Prefill) {
      Var g("g"), b("b");
      RDom r16(0, 16, "group_elements");
      groupQuantSum = Func("group_quant_sum");
      groupQuantSum(g, b, t) = sum(cast<int32_t>(actQuant(256 * b + 16 * g + r16, t)));
    } else {
      Var quad("quad"), l("l"), step("step"), b("b");
      laneQuant = Func("lane_quant");
      laneQuant(withTokenVar({quad, l, step, b})) =
          actQuant(withToken({256 * b + kQuantLaneElement(type, l, step, quad)}));
      RDom r16(0, 4, 0, 4, "lane_elements");
      laneQuantSum = Func("lane_quant_sum");
      laneQuantSum(withTokenVar({l, b})) = sum(cast<int32_t>(laneQuant(withToken({r16.x, l, r16.y, b}))));
      laneQuantVars = {quad, l};
    }
  }

  /// The fp16 block scales of a row tile, converted 8 at a time (vcvtph2ps) instead of one by
  /// one in integer code: blockHalf(i, n) is d of block i (Q4_K: d of block i/2 for even i, dmin
  /// for odd i).
  void defineBlockHalves(GGMLType type, Func bytes, Expr clampedRow) {
    using namespace granite::kernels;
    Var i("i");
    blockHalf = Func("block_half");
    blockHalf(i, n) = halfScale(bytes, halfScaleOffset(type, i), clampedRow);
    blockHalfVar = i;
  }

  /// Q8_0 with quantized_dot, decode (matvec, expert_matvec), in the order of llama.cpp's decode product
  /// (ggml_vec_dot_q8_0_q8_0): per 32-element block one integer dot product of the weight codes with the
  /// activation quants (8 i32 lanes of 4 products: vpdpbusd), started from -128 * (sum of the quants) so that it
  /// is the dot of the quants themselves; then per lane fma(f32(dot), d_w * d_x, sum), the lanes added at the end.
  void defineQ8_0Dot(Func bytes, Expr clampedRow, int blocks) {
    using namespace granite::kernels;
    Var b("b");
    RDom r4(0, 4, "r4");
    dot = Func("block_dot");
    dot(lane, b, n) = quadStart(8 * b + lane);
    dot(lane, b, n) +=
        cast<int32_t>(q8_0Code(bytes, 4 * lane + r4, b, clampedRow)) * cast<int32_t>(actQuant(32 * b + 4 * lane + r4));
    dotReduction = r4;
    r = RDom(0, blocks, "r");
    defineBlockHalves(GGMLType::Q8_0, bytes, clampedRow);
    // d_w * d_x per block, a per-row-tile table vectorized over the blocks.
    groupScale = Func("block_scale");
    groupScale(b, n) = blockHalf(b, n) * actScale(b);
    scaleGroup = b;
    partial(lane, n) = fusedMultiplyAdd(cast<float>(dot(lane, r, n)), groupScale(r, n), partial(lane, n));
  }

  /// Q8_0 with quantized_dot, prefill (matmul), in the order of llama.cpp's batch product (tinyBLAS_Q0_AVX),
  /// which is also its decode order: per row and token 8 f32 sums, sum j taking step j of every block (the dot of
  /// its 4 elements 4j..4j+3) as fma(f32(dot), d_w * d_x, sum) with d_w * d_x rounded first; the output adds the 8
  /// as hsum_float_8 does. So matvec and matmul give the same bits. One weight row per i32 lane, 16 rows (a row
  /// group) per vector as the K-quants' matmul: each task first unpacks its rows' codes, rowCode(q, row lane, j,
  /// block, row group) being the 64 bytes of one vpdpbusd that multiplies them by the step's 4 activation quants
  /// broadcast to every lane; its dot starts at quadStart, so that read as an f32 it is kF32IntBase + the dot of
  /// the quants, exactly (|dot| <= 4 * 128 * 127 < 2^22): one subtraction, not a conversion, makes it an f32.
  void defineQ8_0Matmul(Func bytes, int blocks) {
    using namespace granite::kernels;
    Var q("q"), j("j"), b("b");
    rowCode = Func("row_code");
    rowCode(q, rowLane, j, b, rowGroup) = q8_0Code(bytes, 4 * j + q, b, laneRow());
    rowCodeQuad = q;
    defineRowHalves(GGMLType::Q8_0, bytes, laneRow());
    RDom r4(0, 4, "r4");
    groupDot = Func("step_dot");
    groupDot(rowLane, rowGroup, j, b, t) = quadStart(8 * b + j, t);
    groupDot(rowLane, rowGroup, j, b, t) +=
        cast<int32_t>(rowCode(r4, rowLane, j, b, rowGroup)) * cast<int32_t>(actQuant(32 * b + 4 * j + r4, t));
    dotReduction = r4;
    blockScale = Func("block_scale");
    blockScale(rowLane, rowGroup, b, t) = strict_float(rowHalf(rowLane, b, rowGroup) * actScale(b, t));
    RDom rb(0, blocks, "rb");
    blockReduction = rb;
    stepAcc = Func("step_acc");
    stepAcc(rowLane, j, rowGroup, t) = 0.0f;
    Expr stepDot = reinterpret<float>(groupDot(rowLane, rowGroup, j, rb, t)) - kF32IntBase;
    stepAcc(rowLane, j, rowGroup, t) =
        strict_float(fusedMultiplyAdd(stepDot, blockScale(rowLane, rowGroup, rb, t), stepAcc(rowLane, j, rowGroup, t)));
  }

  /// Q4_K and Q6_K with quantized_dot, decode (matvec, expert_matvec), with ggml's arithmetic: per
  /// block, each of 16 lanes sums 16 products of weight codes and activation quants in i32 (four
  /// 512-bit vpdpbusd over laneQuant, see kQuantLaneCode), times the integer scale of the lane's Q4_K
  /// sub-block or Q6_K group; then one f32 multiply-add per block with d_w * d_x. Q4_K subtracts its
  /// mins alike: m_j * (the lane's sum of quants), times dmin * d_x; Q6_K's codes are 32 + its quants,
  /// so 32 * (the lane's sum of quants) comes off its dot. The integer sums are exact (at most
  /// 16 * 15 * 127 * 63 for Q4_K, 16 * 32 * 127 * 128 for Q6_K, below 2^24), so they also convert to
  /// f32 exactly. The lanes' f32 sums are added at the end.
  void defineKQuantDot(GGMLType type, Func bytes, Expr clampedRow, int blocks) {
    using namespace granite::kernels;
    Var b("b");
    RDom rq(0, 4, 0, 4, "rq"); // rq.x: quad, rq.y: step
    dot = Func("lane_dot");
    dot(lane, b, n) = Expr(0);
    dot(lane, b, n) += cast<int32_t>(kQuantLaneCode(type, bytes, lane, rq.x, rq.y, b, clampedRow)) *
                       cast<int32_t>(laneQuant(rq.x, lane, rq.y, b));
    dotReduction = rq;
    Var i("i");
    defineBlockHalves(type, bytes, clampedRow);
    halfActScale = Func("half_activation_scale"); // d_x for each fp16 scale, so the table is dense
    halfActScale(i) = actScale(i / halfScalesPerBlock(type));
    groupScale = Func("block_scale");
    groupScale(i, n) = blockHalf(i, n) * halfActScale(i);
    scaleGroup = i;
    r = RDom(0, blocks, "r");
    Expr laneDot = dot(lane, r, n), scaled;
    if (type == GGMLType::Q4_K) {
      Expr scale = cast<int32_t>(q4kScale(bytes, lane % 8, r, clampedRow));
      Expr mins = cast<float>(cast<int32_t>(q4kMin(bytes, lane % 8, r, clampedRow)) * laneQuantSum(lane, r));
      scaled = partial(lane, n) + cast<float>(laneDot * scale) * groupScale(2 * r, n) - mins * groupScale(2 * r + 1, n);
    } else {
      Expr quants = laneDot - codeBias(type) * laneQuantSum(lane, r);
      scaled = partial(lane, n) + cast<float>(quants * q6kScaleCode(bytes, lane, r, clampedRow)) * groupScale(r, n);
    }
    // strict_float: no reassociation of the f32 sums (nor FMA contraction).
    partial(lane, n) = strict_float(scaled);
  }

  /// Q4_K and Q6_K with quantized_dot, prefill (matmul), with llama.cpp's batch arithmetic: one weight row per
  /// i32 lane, 16 rows (a row group) per vector, so that the integer sums need no reduction across lanes
  /// (defineKQuantRowLanes). Then the f32 steps in the order of llama.cpp's own batch products, which our
  /// prefill logits match to f32 rounding (test/e2e/GoldenModelTest.cpp):
  /// * Q4_K (ggml's q4_K_8x8 gemm): per 64 elements (two sub-blocks) sumi = sum_j sc_j * dot_j and
  ///   summ = sum_j m_j * (sum of the sub-blocks' quants); acc = fma(sumi, d * d_x, acc) and
  ///   acc_min = fma(summ, dmin * d_x, acc_min), with d * d_x rounded first; the product is acc - acc_min
  ///   (blockAcc - minAcc), each fma one vfmadd (fusedMultiplyAdd).
  /// * Q6_K: per block sumi = sum_g sc_g * dot_g (dots of 32 + the quants, started from -32 * the
  ///   group's sum of quants), acc + sumi * (d * d_x).
  /// The integers are exact (below 2^31) in any summation order.
  void defineKQuantMatmul(GGMLType type, Func bytes, int blocks) {
    using granite::kernels::fusedMultiplyAdd;
    const bool q4k = type == GGMLType::Q4_K;
    Func head = defineRowHead(type, bytes);
    defineRowHalves(type, head, headRow());
    defineKQuantRowLanes(type, bytes, head);
    blockAcc = Func("block_acc");
    if (q4k) {
      RDom rbs(0, 4, 0, blocks, "rbs"); // rbs.x: pair of sub-blocks, rbs.y: block
      blockReduction = rbs;
      // d * d_x and dmin * d_x, rounded to f32 before the fma as llama.cpp's are.
      Var b("b");
      blockScale = Func("block_scale");
      blockScale(rowLane, rowGroup, b, t) = strict_float(rowHalf(rowLane, 2 * b, rowGroup) * actScale(b, t));
      minScale = Func("min_scale");
      minScale(rowLane, rowGroup, b, t) = strict_float(rowHalf(rowLane, 2 * b + 1, rowGroup) * actScale(b, t));
      blockAcc(rowLane, rowGroup, t) = 0.0f;
      blockAcc(rowLane, rowGroup, t) =
          strict_float(fusedMultiplyAdd(cast<float>(blockSum(rowLane, rowGroup, rbs.x, rbs.y, t)),
                                        blockScale(rowLane, rowGroup, rbs.y, t), blockAcc(rowLane, rowGroup, t)));
      minAcc = Func("min_acc");
      minAcc(rowLane, rowGroup, t) = 0.0f;
      minAcc(rowLane, rowGroup, t) =
          strict_float(fusedMultiplyAdd(cast<float>(blockMin(rowLane, rowGroup, rbs.x, rbs.y, t)),
                                        minScale(rowLane, rowGroup, rbs.y, t), minAcc(rowLane, rowGroup, t)));
    } else {
      RDom rb(0, blocks, "rb");
      blockReduction = rb;
      blockAcc(rowLane, rowGroup, t) = 0.0f;
      blockAcc(rowLane, rowGroup, t) =
          strict_float(blockAcc(rowLane, rowGroup, t) + cast<float>(blockSum(rowLane, rowGroup, rb, t)) *
                                                            (rowHalf(rowLane, rb, rowGroup) * actScale(rb, t)));
    }
  }

  /// The K-quants' matmul, one weight row per i32 lane (16 rows, a row group, per vector). Each
  /// parallel task first unpacks its rows once: rowCode(q, row lane, step, lane, block, row group)
  /// holds the 4 codes of quad q of kernel-order lane and step (lib/Kernels/KernelWeightOrder.h) of
  /// 16 rows as the 64 ready bytes of one vpdpbusd, which multiplies them by the 4 activation quants
  /// broadcast to every lane; rowScale, rowMin (Q4_K) and rowHalf hold the rows' integer scales,
  /// mins and fp16 scales by lane. groupDot sums a sub-block (Q4_K) or group (Q6_K, started from
  /// -32 * its sum of quants); blockSum scales and adds them per pair of sub-blocks (Q4_K) or per
  /// block (Q6_K); blockMin adds Q4_K's mins times the sub-blocks' sums of quants per pair (subBlockQuantSum).
  void defineKQuantRowLanes(GGMLType type, Func bytes, Func head) {
    using namespace granite::kernels;
    const bool q4k = type == GGMLType::Q4_K;
    const int groupElements = q4k ? 32 : 16, groups = 256 / groupElements;
    Var q("q"), l("l"), s("s"), j("j"), b("b");
    Expr row = laneRow(), taskRow = headRow();
    rowCode = Func("row_code");
    rowCode(q, rowLane, s, l, b, rowGroup) = kQuantLaneCode(type, bytes, l, q, s, b, row);
    rowCodeQuad = q;
    // Element e of a block is lane e / 32 + 8 * (e % 32 / 16) (Q4_K) or e / 16 (Q6_K) of kernel
    // order, at step e % 16 / 4 and quad e % 4 (lib/Kernels/KernelWeightOrder.h).
    auto codeAt = [&](Expr quad, Expr e, Expr block) {
      Expr orderLane = q4k ? e / 32 + 8 * (e % 32 / 16) : e / 16;
      return rowCode(quad, rowLane, e % 16 / 4, orderLane, block, rowGroup);
    };
    rowScale = Func("row_scale");
    rowScale(rowLane, j, b, rowGroup) =
        q4k ? cast<int32_t>(q4kScale(head, j, b, taskRow)) : q6kScaleCode(head, j, b, taskRow);
    RDom rk(0, 4, 0, groupElements / 4, "rk"); // rk.x: quad, rk.y: quad group of the sub-block or group
    groupDot = Func("group_dot");
    groupDot(rowLane, rowGroup, j, b, t) = q4k ? Expr(0) : -codeBias(type) * groupQuantSum(j, b, t);
    groupDot(rowLane, rowGroup, j, b, t) += cast<int32_t>(codeAt(rk.x, groupElements * j + 4 * rk.y, b)) *
                                            cast<int32_t>(actQuant(256 * b + groupElements * j + 4 * rk.y + rk.x, t));
    dotReduction = rk;
    blockSum = Func("block_sum");
    if (q4k) {
      Var sb("sb");
      RDom rj(0, 2, "rj");
      blockSum(rowLane, rowGroup, sb, b, t) = 0;
      blockSum(rowLane, rowGroup, sb, b, t) +=
          rowScale(rowLane, 2 * sb + rj, b, rowGroup) * groupDot(rowLane, rowGroup, 2 * sb + rj, b, t);
      groupReduction = rj;
      // The pair's mins and sums of quants as i16 pairs (m < 64, |sum| <= 32 * 127): one vpdpwssd per pair.
      Var pair("pair");
      rowMin = Func("row_min");
      rowMin(pair, rowLane, sb, b, rowGroup) = cast<int16_t>(q4kMin(head, 2 * sb + pair, b, taskRow));
      subBlockQuantSum = Func("sub_block_quant_sum");
      subBlockQuantSum(j, b, t) = cast<int16_t>(groupQuantSum(2 * j, b, t) + groupQuantSum(2 * j + 1, b, t));
      RDom rm(0, 2, "rm");
      blockMin = Func("block_min");
      blockMin(rowLane, rowGroup, sb, b, t) = 0;
      blockMin(rowLane, rowGroup, sb, b, t) +=
          cast<int32_t>(rowMin(rm, rowLane, sb, b, rowGroup)) * cast<int32_t>(subBlockQuantSum(2 * sb + rm, b, t));
      minReduction = rm;
    } else {
      RDom rj(0, groups, "rj");
      blockSum(rowLane, rowGroup, b, t) = 0;
      blockSum(rowLane, rowGroup, b, t) += rowScale(rowLane, rj, b, rowGroup) * groupDot(rowLane, rowGroup, rj, b, t);
      groupReduction = rj;
    }
  }

  /// Q4_K and Q6_K with f32 activations (matvec): the code bytes are read in storage order,
  /// vectors of `lanes` consecutive bytes, one nibble at a time, against the activations permuted
  /// once per call to match (kernel order, see kQuantLaneElement); runs of 4 lanes share a
  /// sub-block or scale group, so the per-group scales (and offsets) are broadcasts from the row
  /// tile's tables.
  void defineKQuantStorageOrder(GGMLType type, Func bytes, Expr clampedRow, int blocks, Func activation) {
    using namespace granite::kernels;
    Var code("code"), nibble("nibble"), block("block");
    // Code byte c holds lane c % 64 / 4, quad c % 4 of step 2 * (c / 64) + nibble.
    auto laneOf = [](Expr c) { return c % 64 / 4; };
    codeActivation = Func("code_activation");
    codeActivation(code, nibble, block) =
        activation(256 * block + kQuantLaneElement(type, laneOf(code), 2 * (code / 64) + nibble, code % 4));
    codeActivationVar = code;
    // r.x: vector of code bytes, r.y: nibble, r.z: block.
    r = RDom(0, 128 / lanes, 0, 2, 0, blocks, "r");
    Expr codeByte = r.x * lanes + lane;
    Expr quant = cast<float>(kQuantCode(type, bytes, codeByte, r.y, r.z, clampedRow));
    Expr weight;
    if (type == GGMLType::Q4_K) {
      groupOffset = Func("group_offset");
      groupOffset(scaleGroup, block, n) = granite::kernels::groupOffset(type, bytes, scaleGroup, block, clampedRow);
      Expr group = 2 * (laneOf(codeByte) % 8);
      weight = groupScale(group, r.z, n) * quant - groupOffset(group, r.z, n);
    } else {
      weight = groupScale(laneOf(codeByte), r.z, n) * (quant - float(codeBias(type)));
    }
    partial(lane, n) += weight * codeActivation(codeByte, r.y, r.z);
  }

  /// The activations' quantization, once per call before the product. Serial: in h-tiny's expert matmuls (few tokens
  /// each) a parallel loop per stage cost more in dispatch than it saved.
  void scheduleQuantizedActivations() {
    for (auto [peak, lanes] : {std::pair{actAbsMax, laneAbsMax}, std::pair{actPeak, laneFirstPeak}}) {
      if (!peak.defined()) continue;
      peak.compute_root();
      lanes.compute_at(peak, peak.args()[0]).vectorize(lanes.args()[0]);
    }
    actInverse.compute_root();
    actScale.compute_root();
    actQuant.compute_root().vectorize(actQuantVar, 32);
    if (quadStart.defined()) quadStart.compute_root().vectorize(quadVar, 8);
    if (laneQuant.defined()) {
      laneQuant.compute_root().vectorize(laneQuantVars[0]).vectorize(laneQuantVars[1]);
      laneQuantSum.compute_root().vectorize(laneQuantVars[1]);
    }
  }

  /// Vectorizes `lane` of a K-quant stage as runs of `run` lanes: the loads indexed by lane % run
  /// or lane / run become short dense loads or broadcasts instead of gathers.
  Stage vectorizeLaneRuns(Stage stage, int run) {
    return stage.split(lane, laneRun, inRun, run).vectorize(inRun).vectorize(laneRun);
  }

  /// The K-quants' matvec register tile: per block, the lane dots of each row are computed right
  /// before their f32 step, each of the 4 steps loading the activation quants once for the tile.
  void scheduleKQuantDot(const Var &rowTile) {
    // The scale bytes load as runs of 8: Q4_K's lanes l and l + 8 share a sub-block, Q6_K's 16
    // group scales are consecutive.
    vectorizeLaneRuns(partial.update(0), 8).unroll(n).reorder(inRun, laneRun, n, r.x);
    dot.compute_at(partial, r.x);
    dot.vectorize(lane).unroll(n);
    dot.update()
        .unroll(n)
        .reorder(dotReduction.x, lane, n, dotReduction.y)
        .atomic()
        .vectorize(dotReduction.x)
        .vectorize(lane)
        .unroll(dotReduction.y);
    blockHalf.compute_at(y, rowTile).vectorize(blockHalfVar, 8, TailStrategy::GuardWithIf);
    halfActScale.compute_root();
    groupScale.compute_at(y, rowTile).vectorize(scaleGroup, 8, TailStrategy::GuardWithIf);
  }

  /// The quantized matmul's per-task unpack of its rows (rowCode and the tables by row lane), at `task`. A lane's
  /// steps together: the K-quants' 4 read the same 16 source words (nibbles, and Q6_K's high bits).
  void scheduleTaskUnpack(const Var &task) {
    rowCode.compute_at(y, task).vectorize(rowCodeQuad).vectorize(rowLane).unroll(rowCode.args()[2]);
    if (rowHead.defined())
      rowHead.compute_at(y, task).vectorize(rowHead.args()[0]).vectorize(rowLane).unroll(rowHead.args()[2]);
    for (Func table : {rowScale, rowMin, rowHalf})
      if (table.defined()) table.compute_at(y, task).vectorize(rowLane);
  }

  /// A quantized matmul's register tile of sums (16 row lanes x row groups x tokens) at `rowTile`.
  Func &scheduleTileSums(Func &sums, const Var &rowTile, int rowGroups, int tokens) {
    return sums.compute_at(y, rowTile)
        .bound(rowLane, 0, kRowLanes)
        .bound_extent(rowGroup, rowGroups)
        .bound_extent(t, tokens)
        .vectorize(rowLane)
        .unroll(rowGroup)
        .unroll(t);
  }

  /// The K-quants' matmul (defineKQuantMatmul): the task's rows are unpacked at `task`; a register tile
  /// of row groups x tokens runs each step's group dots, scales them into the sums and takes the f32
  /// step, the weight vector of each quad feeding every token's vpdpbusd.
  void scheduleKQuantMatmul(const Var &task, const Var &rowTile, int rowGroups, int tokens) {
    scheduleTaskUnpack(task);
    groupQuantSum.compute_root().vectorize(groupQuantSum.args()[0], 16);
    // Q4_K's mins take a loop of their own (minAcc): the dots' loop then holds a tile of 2 row groups x 4 tokens,
    // each token's quants broadcast once for both groups (measured on Zen 5 with 2 x 4: Q4_K +12-19%).
    for (Func acc : {blockAcc, minAcc}) {
      if (!acc.defined()) continue;
      scheduleTileSums(acc, rowTile, rowGroups, tokens);
      std::vector<VarOrRVar> order{rowLane, t, rowGroup, blockReduction.x};
      if (blockReduction.dimensions() > 1) order.push_back(blockReduction.y);
      acc.update().reorder(order).vectorize(rowLane).unroll(t).unroll(rowGroup);
    }
    for (auto [scale, acc] : {std::pair{blockScale, blockAcc}, std::pair{minScale, minAcc}})
      if (scale.defined()) scale.compute_at(acc, blockReduction.y).vectorize(rowLane).unroll(rowGroup).unroll(t);
    blockSum.compute_at(blockAcc, blockReduction.x).vectorize(rowLane).unroll(rowGroup).unroll(t);
    // Two steps of the sum at once (Q4_K's 2, Q6_K's 16): their dots interleave (measured on Zen 5 with one row
    // group: Q4_K 42-45% -> 46-50%, Q6_K 45-50% -> 47-53% of the vpdpbusd peak; 4 at once spill Q6_K's).
    blockSum.update()
        .reorder(rowLane, t, rowGroup, groupReduction.x)
        .vectorize(rowLane)
        .unroll(t)
        .unroll(rowGroup)
        .unroll(groupReduction.x, 2);
    if (blockMin.defined()) {
      subBlockQuantSum.compute_root().vectorize(subBlockQuantSum.args()[0], 8);
      blockMin.compute_at(minAcc, blockReduction.x).vectorize(rowLane).unroll(rowGroup).unroll(t);
      // The pair innermost and atomic: Halide matches the i16 pair sum to vpdpwssd.
      blockMin.update()
          .reorder(minReduction.x, rowLane, t, rowGroup)
          .atomic()
          .vectorize(minReduction.x)
          .vectorize(rowLane)
          .unroll(t)
          .unroll(rowGroup);
    }
    groupDot.compute_at(blockSum, groupReduction.x).vectorize(rowLane).unroll(rowGroup).unroll(t);
    groupDot.update()
        .reorder(dotReduction.x, rowLane, t, rowGroup, dotReduction.y)
        .atomic()
        .vectorize(dotReduction.x)
        .vectorize(rowLane)
        .unroll(t)
        .unroll(rowGroup)
        .unroll(dotReduction.y);
  }

  /// Q8_0's matmul (defineQ8_0Matmul): the task's rows are unpacked at `task`; a register tile of row groups x
  /// tokens holds their 8 step sums each; per block and step, each row group's weight vector feeds every token's
  /// vpdpbusd, and the dots go straight into their fma.
  void scheduleQ8_0Matmul(const Var &task, const Var &rowTile, int rowGroups, int tokens) {
    const Var step = stepAcc.args()[1];
    scheduleTaskUnpack(task);
    scheduleTileSums(stepAcc, rowTile, rowGroups, tokens).bound(step, 0, 8).unroll(step);
    stepAcc.update()
        .reorder(rowLane, t, rowGroup, step, blockReduction.x)
        .vectorize(rowLane)
        .unroll(t)
        .unroll(rowGroup)
        .unroll(step);
    blockScale.compute_at(stepAcc, blockReduction.x).vectorize(rowLane).unroll(rowGroup).unroll(t);
    groupDot.compute_at(stepAcc, step).vectorize(rowLane).unroll(rowGroup).unroll(t);
    groupDot.update()
        .reorder(dotReduction.x, rowLane, t, rowGroup)
        .atomic()
        .vectorize(dotReduction.x)
        .vectorize(rowLane)
        .unroll(t)
        .unroll(rowGroup);
  }

  /// Q8_0's quantized_dot tables: fp16 block scales per row tile (`rowTile`), the block scales
  /// d_w * d_x (which depend on the token) at `tokenTile`.
  void scheduleQ8_0Tables(const Var &rowTile, const Var &tokenTile) {
    blockHalf.compute_at(y, rowTile).vectorize(blockHalfVar, 8, TailStrategy::GuardWithIf);
    groupScale.compute_at(y, tokenTile);
    if ((int(in_features) / 32) % lanes == 0) groupScale.vectorize(scaleGroup, lanes);
  }

  Var lane{"lane"}, n{"n"}, t{"t"};
  Var decodedLane, decodedSub, scaleGroup;
  RDom r, reductionLanes;
  Func partial, decoded, laneSum, groupScale, groupOffset, activationBf16;
  // quantized_dot
  Func laneAbsMax, actAbsMax, laneFirstPeak, actPeak, actInverse, actScale, actQuant, quadStart, dot, blockHalf;
  static constexpr int kPeakLanes = 16;                       // lanes of the activations' block peak search
  Func laneQuant, laneQuantSum, halfActScale, codeActivation; // K-quants' matvec
  Func rowCode, rowScale, rowMin, rowHalf, groupDot, groupQuantSum, blockSum, blockMin, blockScale, blockAcc; // matmul
  Func minScale, minAcc, subBlockQuantSum; // Q4_K's matmul
  Func rowHead;                            // the K-quants' matmul
  Var rowLane{"row_lane"}, rowGroup{"row_group"}, rowCodeQuad;
  RDom blockReduction, groupReduction, minReduction;
  static constexpr int kRowLanes = granite::kernels::kQuantRowLanes;
  // 1.5 * 2^23 and its bits: an i32 dot started from kF32IntBits reads as the f32 kF32IntBase + the dot, exactly
  // while |dot| < 2^22, so one subtraction (not a conversion) gives the dot as f32.
  static constexpr float kF32IntBase = 12582912.0f;
  static constexpr int kF32IntBits = 0x4B400000;
  Func stepAcc; // Q8_0's matmul
  std::vector<Var> laneQuantVars;
  Var laneRun{"lane_run"}, inRun{"in_run"};
  Var actQuantVar, quadVar, blockHalfVar, codeActivationVar;
  RDom dotReduction;
  int lanes = 8;
};

} // namespace

using Matvec = Linear<Product::Decode>;
using Matmul = Linear<Product::Prefill>;
using ExpertMatvec = Linear<Product::ExpertDecode>;
HALIDE_REGISTER_GENERATOR(Matvec, matvec)
HALIDE_REGISTER_GENERATOR(Matmul, matmul)
HALIDE_REGISTER_GENERATOR(ExpertMatvec, expert_matvec)
