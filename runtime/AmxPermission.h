// Linux hands a process the AMX tile data state (8 KiB of XSAVE state per thread) only when it asks for it: before
// its first tile instruction, a process calls arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); a tile
// instruction without that permission dies with SIGILL. An executable compiled for x86-64-amx asks once at start
// (runtime/ModelMain.cpp). When the kernel refuses, prefill runs one token at a time: a one-token forward call runs
// the matrix-vector kernels, which use no tiles (docs/executable.md).
#pragma once

#include <string>
#include <string_view>

namespace granite::runtime {

/// True when `requiredFeatures` (GraniteModelInfo::required_features) names amx-tile: the model's kernels use tiles.
bool usesAmxTiles(std::string_view requiredFeatures);

/// Asks the kernel for the tile data state where `requiredFeatures` names amx-tile, once per process (later calls
/// return the first answer). Returns "" when the model may run its tile kernels (or has none), else one line
/// without the program name: "the kernel refused AMX tile state (arch_prctl: Invalid argument); prefill runs one token
/// at a time". GRANITE_AMX_PERMISSION=refuse in the environment makes it answer as if refused, whatever the model
/// (for tests: the fallback runs on any CPU).
std::string requestAmxTileState(std::string_view requiredFeatures);

/// True once requestAmxTileState has answered with a refusal: prefill must not run the tile kernels, so every
/// granite_forward call takes one token.
bool amxTilesRefused();

} // namespace granite::runtime
