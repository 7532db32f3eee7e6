// Causal GQA attention over a KV cache (spec §2.4), decode (tokens = 1) and prefill (a block of
// queries) alike. Query t of the block sits at position past + t and attends to cache positions
// s <= past + t; the cache must already hold this block's keys and values.
//   q, out:          [head_dim, heads, tokens]
//   k_cache, v_cache: [head_dim, kv_heads, capacity]  (one K row of head_dim*kv_heads per position)
// score = (q . k) * scale with Granite's attention.scale, softmax in f32, then the weighted V sum.
//
// Schedule (docs/kernels.md, "attention"): one parallel task per KV head and tile of `tile_tokens`
// queries; per query, all `heads / kv_heads` query heads of the group are computed together, so
// every K and V vector loaded feeds one FMA per head. Scores, per block of `lanes` positions: for
// each position, the group's q rows times the position's K row as lane-wide partial sums (lane l
// sums d = l mod lanes), then one vector reduction (a shuffle tree) turns the block's lanes x lanes
// partial sums into `lanes` scores, instead of a horizontal sum per position. The query's scores
// and weights stay in a per-task scratch (L1/L2): the maximum and the sum of the weights run over
// whole vectors of positions (positions after the query are masked: lowest float, weight 0), and the
// weighted V sum is a register tile of (group heads x d vectors), sequential over positions.
// Every block is aligned to absolute positions and each row's arithmetic is the same whatever
// `past`, the token count or the row's place in its tile: a prompt fed in any pieces, or token by
// token, gives the same bits (OpsTest checks it).
#include "Kernels/ScheduleUtil.h"

#include <algorithm>
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
  /// Queries per parallel task, each with all query heads of its KV group (they share every K and V load).
  GeneratorParam<int> tile_tokens{"tile_tokens", 16};

  Input<Buffer<float>> q{"q", 3};
  Input<Buffer<float>> k_cache{"k_cache", 3};
  Input<Buffer<float>> v_cache{"v_cache", 3};
  Input<int32_t> past{"past"};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    const int D = head_dim;
    granite::kernels::requireParam(int(heads) % int(kv_heads) == 0, "heads must be a multiple of kv_heads");
    granite::kernels::requireParam(int(tile_tokens) >= 1, "tile_tokens must be positive");
    const int G = int(heads) / int(kv_heads);
    lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    const Expr tokens = q.dim(2).extent();
    const Expr last = past + tokens - 1;
    // Masked scores: the lowest finite float rather than -inf, because Halide compiles with
    // LLVM's no-infinities flag; every row has a visible position, so the maximum is a real score.
    const float negInf = std::numeric_limits<float>::lowest();

    // Vectors over d: the widest that divides D (no tails). Lane l of `part` sums the products of
    // the d = l (mod dLanes) in increasing order; a block of dLanes positions then adds its dLanes x
    // dLanes partial sums as one vector reduction (a shuffle tree), giving dLanes scores at once.
    dLanes = lanes;
    while (dLanes > 1 && D % dLanes != 0) dLanes /= 2;
    // Positions past the call's last one (the rounded-up end of a block) read the last row; their
    // scores are masked below.
    Expr key = clamp(s, 0, last);
    Expr sum = q(l, g * G + j, t) * k_cache(l, g, key);
    for (int chunk = 1; chunk < D / dLanes; ++chunk)
      sum += q(l + chunk * dLanes, g * G + j, t) * k_cache(l + chunk * dLanes, g, key);
    part(l, s, j, t, g) = sum;
    RDom rl(0, dLanes, "rl");
    dot(s, j, t, g) = 0.0f;
    dot(s, j, t, g) += part(rl, s, j, t, g);
    laneReduction = rl;
    scores(s, j, t, g) = dot(s, j, t, g) * float(scale);
    Expr visible = s <= past + t;

    // Max and sum over whole vectors of positions (aligned to position 0): lane l of the partial
    // sums holds the positions s = l (mod lanes) in increasing order.
    RDom rv(0, lanes, 0, (past + tokens + lanes - 1) / lanes, "rv");
    rv.where(rv.y * lanes <= past + t);
    Expr sv = rv.x + rv.y * lanes;
    maximum(j, t, g) = Expr(negInf);
    maximum(j, t, g) = max(maximum(j, t, g), select(sv <= past + t, scores(sv, j, t, g), negInf));
    weight(s, j, t, g) = select(visible, exp(scores(s, j, t, g) - maximum(j, t, g)), 0.0f);
    total(j, t, g) = 0.0f;
    total(j, t, g) += weight(sv, j, t, g);
    maxReduction = rv;

    RDom rs(0, past + tokens, "rs");
    rs.where(rs <= past + t);
    accumulated(d, j, t, g) = 0.0f;
    accumulated(d, j, t, g) += weight(rs, j, t, g) * v_cache(d, g, rs);
    posReduction = rs;
    Var h("h");
    out(d, h, t) = accumulated(d, h % G, t, h / G) / total(h % G, t, h / G);
    outHead = h;
  }

  void schedule() {
    const int D = head_dim;
    const int G = int(heads) / int(kv_heads);
    for (auto *buffer : {&q, &k_cache, &v_cache}) {
      buffer->dim(0).set_bounds(0, D);
    }
    q.dim(1).set_bounds(0, heads);
    k_cache.dim(1).set_bounds(0, kv_heads);
    v_cache.dim(1).set_bounds(0, kv_heads);
    out.dim(0).set_bounds(0, D);
    out.dim(1).set_bounds(0, heads);

    const int dVectors = D / dLanes;
    // The weighted V sum's register tile: G heads x a chunk of dChunk vectors of d, about 24
    // accumulators.
    int dChunk = std::max(1, std::min(dVectors, 24 / G));
    while (dVectors % dChunk != 0) --dChunk;

    // One task per (KV group, tile of tokens).
    Var to("to"), ti("ti"), task("task");
    Var h = outHead;
    out.split(h, g, j, G)
        .split(t, to, ti, tile_tokens, TailStrategy::GuardWithIf)
        .reorder(d, j, ti, g, to)
        .fuse(g, to, task)
        .parallel(task)
        .vectorize(d, dLanes);

    // Scores of a token's G rows, dLanes positions at a time: per position, each K vector loaded
    // feeds the G heads' FMAs.
    Var sb("sb"), si("si");
    scores.store_at(out, task)
        .compute_at(out, ti)
        .split(s, sb, si, dLanes, TailStrategy::RoundUp)
        .reorder(si, j, sb)
        .vectorize(si);
    dot.compute_at(scores, sb).bound_extent(s, dLanes).bound_extent(j, G).vectorize(s).unroll(j);
    dot.update().reorder(laneReduction.x, s, j).atomic().vectorize(laneReduction.x).vectorize(s).unroll(j);
    part.compute_at(scores, sb).bound_extent(l, dLanes).bound_extent(j, G).reorder(l, j, s).vectorize(l).unroll(j);

    // Per token: max, weights, sum, weighted V sum.
    for (Func f : {maximum, total}) {
      f.compute_at(out, ti);
      Var lane("lane");
      Func partial = f.update().rfactor(maxReduction.x, lane);
      partial.compute_at(out, ti).reorder_storage(lane, j, t, g).vectorize(lane);
      partial.update().reorder(lane, j, maxReduction.y).vectorize(lane);
      f.update().atomic().vectorize(maxReduction.x);
    }
    weight.store_at(out, task).compute_at(out, ti).vectorize(s, lanes);
    Var dO("dO"), dI("dI"), dv("dv"), dl("dl");
    accumulated.compute_at(out, ti).bound_extent(d, D).bound_extent(j, G);
    accumulated.split(d, dv, dl, dLanes).vectorize(dl).unroll(dv).unroll(j);
    accumulated.update()
        .split(d, dO, dI, dChunk * dLanes)
        .split(dI, dv, dl, dLanes)
        .reorder(dl, dv, j, posReduction.x, dO)
        .vectorize(dl)
        .unroll(dv)
        .unroll(j)
        .unroll(dO);
  }

private:
  int lanes = 16, dLanes = 16;
  Var d{"d"}, t{"t"}, s{"s"}, j{"j"}, g{"g"}, l{"l"};
  Var outHead;
  Func part{"part"}, dot{"dot"}, scores{"scores"}, maximum{"maximum"}, weight{"weight"}, total{"total"},
      accumulated{"accumulated"};
  RDom laneReduction, maxReduction, posReduction;
};

} // namespace

HALIDE_REGISTER_GENERATOR(Attention, attention)
