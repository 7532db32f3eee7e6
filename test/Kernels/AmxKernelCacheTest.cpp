// KernelCache on x86-64-amx: a BF16 prefill product ("matmul") is built from amx_matmul and holds AMX tile
// instructions, under the function name the lowering asks for; the block-quantized ones keep the VNNI matmul, and the
// x86-64-avx512-bf16 family's objects hold no AMX instruction. Object generation and objdump only: runs on any CPU.
#include "Kernels/KernelCache.h"
#include "Target/CpuFamily.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <unistd.h>

namespace granite::kernels {
namespace {

namespace fs = std::filesystem;

class AmxKernelCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    directory = fs::temp_directory_path() / ("granite-amx-kernel-cache-" + std::to_string(getpid()));
    fs::remove_all(directory);
  }
  void TearDown() override { fs::remove_all(directory); }
  fs::path directory;
};

/// The mnemonics of `object`'s instructions, one per line (objdump -d).
std::string disassembly(const fs::path &object) {
  std::string command = "objdump -d --no-show-raw-insn '" + object.string() + "'";
  std::unique_ptr<FILE, int (*)(FILE *)> pipe(popen(command.c_str(), "r"), pclose);
  std::string text;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe.get())) text += buffer;
  return text;
}

bool holds(const std::string &listing, const std::string &mnemonic) {
  return listing.find("\t" + mnemonic + " ") != std::string::npos;
}

KernelRequest product(GGMLType type, const std::string &family, const std::string &name) {
  return {"matmul", {{"weight_type", type}, {"in_features", 512}, {"out_features", 64}}, family, name};
}

TEST_F(AmxKernelCacheTest, Bf16PrefillProductsUseAmxTiles) {
  if (std::system("command -v objdump >/dev/null 2>&1") != 0) GTEST_SKIP() << "objdump is not installed";
  KernelCache cache(directory);
  CompiledKernel amx = cache.instantiate(product(GGMLType::BF16, "sapphirerapids", "granite_test_amx_bf16"));
  const std::string listing = disassembly(amx.object);
  EXPECT_NE(listing.find("<granite_test_amx_bf16>:"), std::string::npos) << "the lowering's name is kept";
  for (const char *mnemonic : {"ldtilecfg", "tileloadd", "tdpbf16ps", "tilestored"})
    EXPECT_TRUE(holds(listing, mnemonic)) << mnemonic;

  // The same request for the BF16 family (same Halide target) is another object, without tiles.
  CompiledKernel bf16 = cache.instantiate(product(GGMLType::BF16, "x86-64-avx512-bf16", "granite_test_amx_bf16"));
  EXPECT_NE(bf16.key, amx.key);
  EXPECT_FALSE(holds(disassembly(bf16.object), "tdpbf16ps"));
  EXPECT_TRUE(holds(disassembly(bf16.object), "vdpbf16ps"));

  // bf16_dot=false keeps f32 activations, which AMX does not multiply: the plain matmul.
  KernelRequest f32Activations = product(GGMLType::BF16, "x86-64-amx", "");
  f32Activations.knobs = {{"bf16_dot", "false"}};
  EXPECT_FALSE(holds(disassembly(cache.instantiate(f32Activations).object), "tdpbf16ps"));
}

TEST_F(AmxKernelCacheTest, QuantizedPrefillProductsKeepVnni) {
  if (std::system("command -v objdump >/dev/null 2>&1") != 0) GTEST_SKIP() << "objdump is not installed";
  KernelCache cache(directory);
  const std::string listing = disassembly(cache.instantiate(product(GGMLType::Q8_0, "x86-64-amx", "")).object);
  EXPECT_TRUE(holds(listing, "vpdpbusd"));
  EXPECT_EQ(listing.find("\ttdp"), std::string::npos);
}

TEST(AmxFamily, ExistsWithItsAliasesAndIsNotTheHostWithoutAmx) {
  const target::CpuFamily *amx = target::findFamily("x86-64-amx");
  ASSERT_NE(amx, nullptr);
  for (const char *alias : {"sapphirerapids", "emeraldrapids", "graniterapids"})
    EXPECT_EQ(target::findFamily(alias), amx) << alias;
  EXPECT_EQ(target::findFamily("znver5")->name, "x86-64-avx512-bf16");
  EXPECT_TRUE(amx->defaults.amxMatmul);
  EXPECT_FALSE(target::findFamily("x86-64-avx512-bf16")->defaults.amxMatmul);
  // The AMX features come first (a refusal names them), then the BF16 family's, all of them.
  ASSERT_GE(amx->requiredFeatures.size(), 3u);
  EXPECT_EQ(amx->requiredFeatures[0], "amx-tile");
  for (const std::string &feature : target::findFamily("x86-64-avx512-bf16")->requiredFeatures)
    EXPECT_NE(std::find(amx->requiredFeatures.begin(), amx->requiredFeatures.end(), feature),
              amx->requiredFeatures.end())
        << feature;
  // Listed after the BF16 family, so host picks it where the CPU has AMX, and only there.
  const auto &families = target::allFamilies();
  auto position = [&](const char *name) {
    for (size_t i = 0; i < families.size(); ++i)
      if (families[i].name == name) return i;
    return families.size();
  };
  EXPECT_EQ(position("x86-64-amx"), position("x86-64-avx512-bf16") + 1);
  if (target::hostCanRun(*amx))
    EXPECT_EQ(&target::hostFamily(), amx);
  else
    EXPECT_NE(&target::hostFamily(), amx);
  // Its kernels keep AMX; the BF16 family's drop it.
  EXPECT_EQ(amx->kernelLlcAttributes.find("amx"), std::string::npos);
  EXPECT_NE(target::findFamily("x86-64-avx512-bf16")->kernelLlcAttributes.find("-amx-tile"), std::string::npos);
}

} // namespace
} // namespace granite::kernels
