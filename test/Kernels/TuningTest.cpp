// Tuning files (lib/Kernels/Tuning.h): what granitec tune writes is what granitec compile reads back, entries are
// found by family, CPU and kernel instance, and each product is offered only the knobs its schedule honours.
#include "Kernels/Tuning.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace {

using namespace granite::kernels;
namespace fs = std::filesystem;

fs::path temporaryFile(const std::string &name) {
  return fs::temp_directory_path() / ("granite-tuning-test-" + std::to_string(getpid()) + "-" + name);
}

std::vector<std::string> knobNames(const std::string &family, const std::string &generator,
                                   const KernelParams &params) {
  std::vector<std::string> names;
  for (const auto &[name, choices] : tunableKnobs(*granite::target::findFamily(family), generator, params)) {
    EXPECT_FALSE(choices.empty()) << name;
    names.push_back(name);
  }
  return names;
}

bool has(const std::vector<std::string> &names, const std::string &name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(TuningTest, SaveThenLoadKeepsEveryEntry) {
  TuningFile file;
  file.put({"x86-64-avx2", "cpu A", "matvec in_features=256", {{"tile_rows", "2"}}, 10.0, 8.0});
  file.put({"x86-64-avx2", "cpu A", "matmul in_features=256", {}, 5.0, 5.0});
  file.put({"x86-64-avx2", "cpu A", "matvec in_features=256", {{"tile_rows", "8"}}, 10.0, 7.0}); // replaces
  const fs::path path = temporaryFile("roundtrip.json");
  file.save(path);
  TuningFile loaded = TuningFile::load(path);
  fs::remove(path);
  ASSERT_EQ(loaded.entries.size(), 2u);
  EXPECT_EQ(loaded.entries[0].knobs, (Knobs{{"tile_rows", "8"}}));
  EXPECT_EQ(loaded.entries[0].afterUs, 7.0);
  EXPECT_TRUE(loaded.entries[1].knobs.empty());
}

TEST(TuningTest, FindPrefersThisCpuAndNeedsTheFamily) {
  TuningFile file;
  file.put({"x86-64-avx2", "cpu A", "k", {{"tile_rows", "1"}}, 0, 0});
  file.put({"x86-64-avx2", "cpu B", "k", {{"tile_rows", "2"}}, 0, 0});
  EXPECT_EQ(file.find("x86-64-avx2", "cpu B", "k")->knobs.at("tile_rows"), "2");
  EXPECT_EQ(file.find("x86-64-avx2", "cpu C", "k")->knobs.at("tile_rows"), "1"); // another CPU of the family
  EXPECT_EQ(file.find("x86-64-avx512", "cpu A", "k"), nullptr);
  EXPECT_EQ(file.find("x86-64-avx2", "cpu A", "other"), nullptr);
}

TEST(TuningTest, LoadRejectsOtherFiles) {
  const fs::path path = temporaryFile("bad.json");
  std::ofstream(path) << R"({"format": "something else", "entries": []})";
  EXPECT_THROW(TuningFile::load(path), std::runtime_error);
  fs::remove(path);
  EXPECT_THROW(TuningFile::load(path), std::runtime_error);
}

TEST(TuningTest, InstanceKeyNamesGeneratorAndParameters) {
  EXPECT_EQ(instanceKey("matvec", {{"weight_type", granite::GGMLType::Q4_K}, {"in_features", 256}}),
            "matvec in_features=256 weight_type=q4_k");
  // Floats with the digits that parse back to the same f32, as the generator reads them.
  EXPECT_EQ(instanceKey("rmsnorm", {{"channels", 256}, {"epsilon", 1e-5f}}),
            "rmsnorm channels=256 epsilon=9.99999975e-06");
}

TEST(TuningTest, KnobsAreThoseTheScheduleHonours) {
  const KernelParams q4k = {{"weight_type", granite::GGMLType::Q4_K}, {"in_features", 256}, {"out_features", 512}};
  // With integer dot products the lanes are fixed and prefetch is scheduled; with f32 activations the reverse.
  std::vector<std::string> dot = knobNames("x86-64-avx512-bf16", "matvec", q4k);
  EXPECT_FALSE(has(dot, "vector_width"));
  EXPECT_TRUE(has(dot, "prefetch_blocks"));
  EXPECT_TRUE(has(dot, "rows_per_task"));
  std::vector<std::string> f32 = knobNames("x86-64-avx2", "matvec", q4k);
  EXPECT_TRUE(has(f32, "vector_width"));
  EXPECT_FALSE(has(f32, "prefetch_blocks"));
  std::vector<std::string> prefill = knobNames("x86-64-avx2", "matmul", q4k);
  EXPECT_TRUE(has(prefill, "tile_tokens"));
  EXPECT_FALSE(has(prefill, "rows_per_task"));
  EXPECT_FALSE(isTunable("rmsnorm"));
  EXPECT_TRUE(isTunable("expert_matvec"));
}

} // namespace
