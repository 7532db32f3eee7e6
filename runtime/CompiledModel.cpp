#include "runtime/CompiledModel.h"

#include "runtime/AmxPermission.h"
#include "runtime/ThreadPool.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <sys/mman.h>
#include <thread>

namespace granite::runtime {
namespace {

const GraniteModelInfo &checkedInfo() {
  const GraniteModelInfo *info = granite_model_info();
  if (!info || info->abi_version != GRANITE_MODEL_ABI_VERSION)
    throw ModelError("the compiled model has ABI version " + std::to_string(info ? info->abi_version : 0) +
                     ", this runtime expects " + std::to_string(GRANITE_MODEL_ABI_VERSION));
  if (info->vocab_size <= 0 || info->context_length <= 0 || info->max_tokens <= 0)
    throw ModelError("the compiled model reports an empty vocabulary, context or batch");
  return *info;
}

/// Anonymous mappings start as zero pages and are committed only when touched, so a long context's KV cache costs
/// memory only as far as it is used, and reset() can hand the pages back instead of writing zeros over them.
/// Transparent huge pages where the kernel leaves them to madvise: a page fault here costs microseconds, and a
/// hybrid model touches its whole recurrent state (22 MB for h-350m) in the first forward after every reset, which
/// took about 45 ms in 4 KiB pages against a few ms in 2 MiB ones.
uint8_t *mapZeroed(uint64_t bytes, const char *what) {
  if (bytes == 0) return nullptr;
  void *address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (address == MAP_FAILED)
    throw ModelError(std::string("cannot allocate the model's ") + what + " (" + std::to_string(bytes) + " bytes)");
  madvise(address, bytes, MADV_HUGEPAGE); // advice only: without huge pages everything still works
  return static_cast<uint8_t *>(address);
}

/// The state's ranges as the compiled model lists them; a model that lists none (a hand-written test model) has its
/// whole state as one recurrent range, which is always safe to copy and never truncated.
std::vector<GraniteStateRegion> stateRegions(const GraniteModelInfo &info) {
  if (info.state_region_count > 0 && info.state_regions)
    return {info.state_regions, info.state_regions + info.state_region_count};
  if (info.state_bytes == 0) return {};
  return {GraniteStateRegion{0, info.state_bytes, 0}};
}

/// The bytes of every state range a prefix of `position` tokens uses, back to back, in region order.
class CompiledSnapshot : public ModelSnapshot {
public:
  CompiledSnapshot(const CompiledModel *owner, int32_t position, uint64_t bytes)
      : owner(owner), position(position), size(bytes), data(new uint8_t[bytes]) {}
  uint64_t bytes() const override { return size; }

  const CompiledModel *owner;
  int32_t position;
  uint64_t size;
  std::unique_ptr<uint8_t[]> data; // not zeroed: every byte is copied in
};

/// How much of `region` holds the state of the first `position` positions.
uint64_t usedBytes(const GraniteStateRegion &region, int32_t position) {
  return region.bytes_per_position ? region.bytes_per_position * static_cast<uint64_t>(position) : region.bytes;
}

/// The pool the kernels' parallel loops run on. granite_set_parallel_for is process-wide, so the pool is too.
std::unique_ptr<ThreadPool> &kernelPool() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

int runOnKernelPool(void *context, GraniteTask task, int min, int extent, uint8_t *closure) {
  return kernelPool()->parallelFor(context, task, min, extent, closure);
}

} // namespace

CompiledModel::CompiledModel(const WeightMemory &weights)
    : info_(checkedInfo()), weights_(weights), regions_(stateRegions(info_)), contextLength_(info_.context_length),
      chunkSize_(info_.max_tokens) {
  for (const GraniteStateRegion &region : regions_) {
    if (region.offset + region.bytes > info_.state_bytes ||
        region.bytes_per_position * static_cast<uint64_t>(info_.context_length) > region.bytes)
      throw ModelError("the compiled model's state table lists a range outside its state");
    recurrent_ = recurrent_ || region.bytes_per_position == 0;
  }
  if (weights.size() != info_.weights_bytes)
    throw ModelError("the weight blob holds " + std::to_string(weights.size()) + " bytes, the compiled model reads " +
                     std::to_string(info_.weights_bytes));
  // x86-64-amx without the kernel's permission for tiles: one token per call runs no tile kernel (AmxPermission.h).
  if (!requestAmxTileState(info_.required_features).empty()) chunkSize_ = 1;
  setThreads(0);
  state_ = mapZeroed(info_.state_bytes, "state");
  try {
    scratch_ = mapZeroed(info_.scratch_bytes, "scratch arena");
  } catch (...) {
    if (state_) munmap(state_, info_.state_bytes);
    throw;
  }
}

CompiledModel::~CompiledModel() {
  if (state_) munmap(state_, info_.state_bytes);
  if (scratch_) munmap(scratch_, info_.scratch_bytes);
}

void CompiledModel::reset() {
  // MADV_DONTNEED on a private anonymous mapping makes the next touch read zeros: the empty sequence.
  if (position_ > 0 && state_ && madvise(state_, info_.state_bytes, MADV_DONTNEED) != 0)
    throw ModelError("cannot reset the model state");
  position_ = 0;
}

bool CompiledModel::truncate(int32_t positions) {
  if (recurrent_ || positions < 0 || positions > position_) return false;
  // The entries past `positions` stay in memory but are never read: attention reads positions below the current one.
  position_ = positions;
  return true;
}

std::unique_ptr<ModelSnapshot> CompiledModel::snapshot() const {
  uint64_t total = 0;
  for (const GraniteStateRegion &region : regions_) total += usedBytes(region, position_);
  auto copy = std::make_unique<CompiledSnapshot>(this, position_, total);
  uint8_t *out = copy->data.get();
  for (const GraniteStateRegion &region : regions_) {
    uint64_t bytes = usedBytes(region, position_);
    std::memcpy(out, state_ + region.offset, bytes);
    out += bytes;
  }
  return copy;
}

void CompiledModel::restore(const ModelSnapshot &snapshot) {
  auto *copy = dynamic_cast<const CompiledSnapshot *>(&snapshot);
  if (!copy || copy->owner != this) throw ModelError("a state snapshot was restored into a model that did not take it");
  const uint8_t *in = copy->data.get();
  for (const GraniteStateRegion &region : regions_) {
    uint64_t bytes = usedBytes(region, copy->position);
    std::memcpy(state_ + region.offset, in, bytes);
    in += bytes;
  }
  position_ = copy->position;
}

void CompiledModel::limitContext(int32_t positions) {
  if (positions <= 0 || positions > info_.context_length)
    throw ModelError("a context of " + std::to_string(positions) + " positions does not fit the compiled context of " +
                     std::to_string(info_.context_length));
  contextLength_ = positions;
}

int32_t CompiledModel::setThreads(int32_t threads) {
  if (threads <= 0) threads = info_.default_threads;
  if (threads <= 0) threads = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  std::unique_ptr<ThreadPool> &pool = kernelPool();
  if (!pool || pool->threads() != threads) {
    pool.reset(); // its workers exit before the new ones start
    pool = std::make_unique<ThreadPool>(threads);
  }
  granite_set_parallel_for(runOnKernelPool);
  return threads;
}

int32_t CompiledModel::threads() const { return kernelPool()->threads(); }

void CompiledModel::setChunkSize(int32_t tokens) {
  if (amxTilesRefused()) tokens = 1;
  chunkSize_ = tokens > 0 && tokens < info_.max_tokens ? tokens : info_.max_tokens;
}

void CompiledModel::forward(const int32_t *ids, int32_t count, float *lastLogits) {
  run(ids, count, false, lastLogits);
}

void CompiledModel::forwardAll(const int32_t *ids, int32_t count, float *allLogits) {
  run(ids, count, true, allLogits);
}

void CompiledModel::run(const int32_t *ids, int32_t count, bool allLogits, float *logits) {
  if (count <= 0) throw ModelError("forward needs at least one token");
  if (count > contextLength_ - position_)
    throw ModelError("the context is full: " + std::to_string(position_) + " + " + std::to_string(count) +
                     " tokens exceed " + std::to_string(contextLength_) + " positions");
  for (int32_t i = 0; i < count; ++i)
    if (ids[i] < 0 || ids[i] >= info_.vocab_size)
      throw ModelError("token id " + std::to_string(ids[i]) + " is outside the model's vocabulary of " +
                       std::to_string(info_.vocab_size));
  for (int32_t done = 0; done < count;) {
    int32_t piece = std::min(chunkSize_, count - done);
    // A prompt's last piece never holds one token alone: one token takes the matrix-vector path of decode, which
    // rounds differently, and a prompt's logits must not depend on where its pieces begin (runtime/Generator.h).
    if (count - done - piece == 1 && piece > 2) --piece;
    // Without allLogits every piece writes its last row to the same place; the final piece's row remains.
    float *out = allLogits ? logits + static_cast<size_t>(done) * info_.vocab_size : logits;
    int32_t status =
        granite_forward(weights_.data(), state_, scratch_, ids + done, piece, position_, allLogits ? 1 : 0, out);
    if (status != 0)
      throw ModelError("the compiled model failed with kernel error " + std::to_string(status) + " at position " +
                       std::to_string(position_));
    position_ += piece;
    done += piece;
  }
}

} // namespace granite::runtime
