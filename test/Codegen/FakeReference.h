// What the fake model (FakeModel.cpp) must produce, computed in the test process from the table the test wrote.
#pragma once

#include "FakeModelFormula.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace granite::fake {

/// The weight table as the blob writer lays it out.
inline std::vector<uint8_t> referenceTable() {
  std::vector<uint8_t> table(kTableBytes);
  for (uint64_t i = 0; i < kTableBytes; ++i) table[i] = tableByte(i);
  return table;
}

/// A small blob: zeros before the table (at `tableOffset`) and a non-zero tail after it.
inline std::vector<uint8_t> smallBlob(uint64_t tableOffset) {
  std::vector<uint8_t> blob(weightsBytes(tableOffset), 0);
  std::vector<uint8_t> table = referenceTable();
  std::copy(table.begin(), table.end(), blob.begin() + tableOffset);
  for (uint64_t i = tableOffset + kTableBytes; i < blob.size(); ++i) blob[i] = 0xA5;
  return blob;
}

/// Logit rows [ids.size()][kVocab] of a fresh sequence fed `ids`.
inline std::vector<float> referenceLogits(const std::vector<int32_t> &ids) {
  std::vector<uint8_t> table = referenceTable();
  FakeState state{};
  std::vector<float> rows;
  for (std::size_t p = 0; p < ids.size(); ++p) {
    float history = advance(state, table.data(), ids[p], static_cast<int32_t>(p));
    for (int32_t v = 0; v < kVocab; ++v) rows.push_back(logit(table.data(), history, static_cast<int32_t>(p), v));
  }
  return rows;
}

/// The greedy continuation of `prompt` (`steps` ids; never a padding row or an id marked in `excluded`; the lowest
/// id on ties) and the logit rows each was chosen from.
inline std::vector<int32_t> referenceGreedy(const std::vector<int32_t> &prompt, int32_t steps,
                                            const std::vector<bool> &excluded, std::vector<float> *chosenFrom) {
  std::vector<int32_t> sequence = prompt, picked;
  for (int32_t step = 0; step < steps; ++step) {
    std::vector<float> rows = referenceLogits(sequence);
    const float *last = rows.data() + (sequence.size() - 1) * kVocab;
    int32_t best = -1;
    for (int32_t v = 0; v < kTokenizerSize; ++v)
      if (!excluded[v] && (best < 0 || last[v] > last[best])) best = v;
    if (chosenFrom) chosenFrom->insert(chosenFrom->end(), last, last + kVocab);
    picked.push_back(best);
    sequence.push_back(best);
  }
  return picked;
}

} // namespace granite::fake
