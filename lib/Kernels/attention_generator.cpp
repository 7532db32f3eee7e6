// Causal GQA attention over a KV cache (spec §2.4), decode (tokens = 1) and prefill (a block of
// queries) alike. Query t of the block sits at position past + t and attends to cache positions
// s <= past + t; the cache must already hold this block's keys and values.
//   q, out:          [head_dim, heads, tokens]
//   k_cache, v_cache: [head_dim, kv_heads, capacity]  (one K row of head_dim*kv_heads per position)
// score = (q . k) * scale with Granite's attention.scale, softmax in f32, then the weighted V sum.
#include "Kernels/ScheduleUtil.h"

#include <limits>

namespace {

using namespace Halide;

class Attention : public Generator<Attention> {
public:
  GeneratorParam<int> head_dim{"head_dim", 64};
  GeneratorParam<int> heads{"heads", 4};
  GeneratorParam<int> kv_heads{"kv_heads", 1};
  GeneratorParam<float> scale{"scale", 0.015625f};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> q{"q", 3};
  Input<Buffer<float>> k_cache{"k_cache", 3};
  Input<Buffer<float>> v_cache{"v_cache", 3};
  Input<int32_t> past{"past"};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    const int D = head_dim;
    granite::kernels::requireParam(int(heads) % int(kv_heads) == 0, "heads must be a multiple of kv_heads");
    Expr group = h / (int(heads) / int(kv_heads));
    const Expr tokens = q.dim(2).extent();

    RDom rd(0, D, "rd");
    score(s, h, t) = 0.0f;
    score(s, h, t) += q(rd, h, t) * k_cache(rd, group, s);
    dotReduction = rd;

    // Every query sees positions [0, past + t]; the RDom covers the block's longest row.
    RDom rs(0, past + tokens, "rs");
    rs.where(rs <= past + t);
    Expr scaled = score(rs, h, t) * float(scale);
    maximum(h, t) = Expr(-std::numeric_limits<float>::infinity());
    maximum(h, t) = max(maximum(h, t), scaled);
    weight(s, h, t) = exp(score(s, h, t) * float(scale) - maximum(h, t));
    total(h, t) = 0.0f;
    total(h, t) += weight(rs, h, t);
    accumulated(d, h, t) = 0.0f;
    accumulated(d, h, t) += weight(rs, h, t) * v_cache(d, group, rs);
    out(d, h, t) = accumulated(d, h, t) / total(h, t);
  }

  void schedule() {
    const int D = head_dim;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    for (auto *buffer : {&q, &k_cache, &v_cache}) {
      buffer->dim(0).set_bounds(0, D);
    }
    q.dim(1).set_bounds(0, heads);
    k_cache.dim(1).set_bounds(0, kv_heads);
    v_cache.dim(1).set_bounds(0, kv_heads);
    out.dim(0).set_bounds(0, D);
    out.dim(1).set_bounds(0, heads);

    // One (head, query) row per task: scores and weights for that row live in a scratch line.
    Var row("row");
    out.fuse(h, t, row).parallel(row).vectorize(d, std::min(lanes, D), TailStrategy::GuardWithIf);
    for (Func f : {maximum, total}) f.compute_at(out, row);
    score.compute_at(out, row);
    // q·k as lane-wide partial sums, then one horizontal sum per position: `atomic().vectorize()`
    // of the dot product came out as a scalar chain of D dependent adds per position, which made
    // decode slow down with the context (micro at 512 positions: 22% of its time).
    granite::kernels::vectorizeSum(score, dotReduction.x, s, std::min(lanes, D));
    weight.compute_at(out, row).vectorize(s, lanes, TailStrategy::GuardWithIf);
    accumulated.compute_at(out, row).vectorize(d, std::min(lanes, D), TailStrategy::GuardWithIf);
    accumulated.update().vectorize(d, std::min(lanes, D), TailStrategy::GuardWithIf);
  }

private:
  Var d{"d"}, h{"h"}, t{"t"}, s{"s"};
  Func score{"score"}, maximum{"maximum"}, weight{"weight"}, total{"total"}, accumulated{"accumulated"};
  RDom dotReduction;
};

} // namespace

HALIDE_REGISTER_GENERATOR(Attention, attention)
