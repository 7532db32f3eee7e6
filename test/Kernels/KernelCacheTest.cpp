// KernelCache: objects land in the cache directory under a key of (generator, params, target),
// the second request is a hit that compiles nothing, and every family (aarch64 included)
// produces an object for its own machine type.
#include "Kernels/KernelCache.h"
#include "Target/CpuFamily.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace granite::kernels {
namespace {

namespace fs = std::filesystem;

class KernelCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    directory = fs::temp_directory_path() / ("granite-kernel-cache-" + std::to_string(getpid()));
    fs::remove_all(directory);
  }
  void TearDown() override { fs::remove_all(directory); }
  fs::path directory;
};

/// e_machine of an ELF object: 62 = x86-64, 183 = AArch64.
int elfMachine(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char header[20] = {};
  in.read(reinterpret_cast<char *>(header), sizeof header);
  if (header[0] != 0x7f || header[1] != 'E' || header[2] != 'L' || header[3] != 'F') return -1;
  return header[18] | (header[19] << 8);
}

bool fileContains(const fs::path &path, const std::string &needle) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  return content.find(needle) != std::string::npos;
}

const KernelRequest kRmsNorm{"rmsnorm", {{"channels", 256}}, "x86-64-avx2", ""};

TEST_F(KernelCacheTest, SecondInstantiationIsACacheHit) {
  KernelCache cache(directory);
  CompiledKernel first = cache.instantiate(kRmsNorm);
  EXPECT_FALSE(first.cacheHit);
  ASSERT_TRUE(fs::exists(first.object));
  ASSERT_TRUE(fs::exists(first.header));
  EXPECT_EQ(first.object.parent_path(), directory);
  EXPECT_TRUE(fileContains(first.header, first.functionName));

  auto start = std::chrono::steady_clock::now();
  CompiledKernel second = KernelCache(directory).instantiate(kRmsNorm); // a fresh process-like cache
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(second.cacheHit);
  EXPECT_EQ(second.key, first.key);
  EXPECT_EQ(second.object, first.object);
  EXPECT_LT(seconds, 0.05) << "a hit must not compile";
}

TEST_F(KernelCacheTest, KeyDependsOnParamsTargetAndName) {
  KernelCache cache(directory);
  std::string base = cache.instantiate(kRmsNorm).key;
  KernelRequest otherShape = kRmsNorm;
  otherShape.params["channels"] = 512;
  KernelRequest otherFamily = kRmsNorm;
  otherFamily.family = "x86-64-avx512";
  KernelRequest otherName = kRmsNorm;
  otherName.functionName = "final_norm";
  EXPECT_NE(cache.instantiate(otherShape).key, base);
  EXPECT_NE(cache.instantiate(otherFamily).key, base);
  CompiledKernel named = cache.instantiate(otherName);
  EXPECT_NE(named.key, base);
  EXPECT_EQ(named.functionName, "final_norm");
}

TEST_F(KernelCacheTest, KnobsReplaceTheFamilyDefaults) {
  KernelCache cache(directory);
  std::string base = cache.instantiate(kRmsNorm).key;
  const int lanes = target::findFamily(kRmsNorm.family)->defaults.vectorWidth;
  KernelRequest sameAsDefault = kRmsNorm;
  sameAsDefault.knobs = {{"vector_width", std::to_string(lanes)}};
  KernelRequest wider = kRmsNorm;
  wider.knobs = {{"vector_width", std::to_string(2 * lanes)}};
  EXPECT_EQ(cache.instantiate(sameAsDefault).key, base);
  EXPECT_NE(cache.instantiate(wider).key, base);
}

// A matmul's parallel task holds the rows whose weights fit in the family's prefillTaskBytes (256 KiB: 85 BF16 rows
// of K = 1536), rounded down to whole register tiles (4 rows), at most 128, and at most N / 8 (16 rows of N = 128).
TEST_F(KernelCacheTest, MatmulTasksHoldTheRowsThatFitTheFamilysTaskBytes) {
  KernelCache cache(directory);
  auto matmul = [](int64_t outFeatures, const std::string &rowsPerTask) {
    KernelRequest request{"matmul",
                          {{"weight_type", GGMLType::BF16}, {"in_features", 1536}, {"out_features", outFeatures}},
                          "x86-64-avx512-bf16",
                          ""};
    if (!rowsPerTask.empty()) request.knobs = {{"rows_per_task", rowsPerTask}};
    return request;
  };
  ASSERT_EQ(target::findFamily("x86-64-avx512-bf16")->defaults.prefillTaskBytes, 256 << 10);
  EXPECT_EQ(cache.instantiate(matmul(4096, "")).key, cache.instantiate(matmul(4096, "84")).key);
  EXPECT_NE(cache.instantiate(matmul(4096, "")).key, cache.instantiate(matmul(4096, "4")).key);
  EXPECT_EQ(cache.instantiate(matmul(128, "")).key, cache.instantiate(matmul(128, "16")).key);
}

TEST_F(KernelCacheTest, EveryFamilyBuildsAQuantizedProductForItsMachine) {
  KernelCache cache(directory);
  for (const target::CpuFamily &family : target::allFamilies()) {
    SCOPED_TRACE(family.name);
    CompiledKernel kernel = cache.instantiate(
        {"matvec", {{"weight_type", GGMLType::Q4_K}, {"in_features", 512}, {"out_features", 64}}, family.name, ""});
    bool arm = family.name.rfind("aarch64", 0) == 0;
    EXPECT_EQ(elfMachine(kernel.object), arm ? 183 : 62);
    EXPECT_EQ(elfMachine(cache.runtime(family.name)), arm ? 183 : 62);
  }
}

TEST_F(KernelCacheTest, FamilyAliasesAndHostResolve) {
  KernelCache cache(directory);
  KernelRequest zen5 = kRmsNorm;
  zen5.family = "zen5";
  KernelRequest canonical = kRmsNorm;
  canonical.family = "x86-64-avx512-bf16";
  EXPECT_EQ(cache.instantiate(zen5).key, cache.instantiate(canonical).key);
  KernelRequest host = kRmsNorm;
  host.family = "host";
  EXPECT_NO_THROW(cache.instantiate(host));
}

TEST_F(KernelCacheTest, RejectsUnknownGeneratorFamilyAndBadParams) {
  KernelCache cache(directory);
  EXPECT_THROW(cache.instantiate({"no_such_kernel", {}, "x86-64-avx2", ""}), std::invalid_argument);
  EXPECT_THROW(cache.instantiate({"rmsnorm", {}, "pdp-11", ""}), std::invalid_argument);
  // Q4_K rows must be whole 256-element blocks.
  EXPECT_ANY_THROW(
      cache.instantiate({"matvec", {{"weight_type", GGMLType::Q4_K}, {"in_features", 100}}, "x86-64-avx2", ""}));
  EXPECT_ANY_THROW(cache.instantiate({"matvec", {{"weight_type", GGMLType::Q4_K}, {"in_features", 100}}, "zen5", ""}));
  for (const auto &entry : fs::directory_iterator(directory)) ADD_FAILURE() << "a failed compile left " << entry.path();
}

/// A driver for the aarch64 run: calls an f32 matvec and an rmsnorm on fixed data and compares
/// them with plain loops (the same f32 summation bound as LinearTest, relative 1e-5 for rmsnorm).
constexpr const char *kArmDriver = R"(
#include "matvec.h"
#include "rmsnorm.h"
#include "HalideBuffer.h"
#include <cmath>
#include <cstdio>
int main() {
  const int K = 100, N = 37;
  float w[N][K], x[K], y[N], norm[K], weight[K];
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k)
      w[n][k] = std::sin(0.37f * n + 0.11f * k);
  for (int k = 0; k < K; ++k) { x[k] = std::cos(0.05f * k); weight[k] = 1.0f + 0.01f * k; }
  Halide::Runtime::Buffer<float> wb(&w[0][0], K, N), xb(x, K), yb(y, N), nb(norm, K, 1),
      xb2(x, K, 1), gb(weight, K);
  if (arm_matvec(wb, xb, yb) || arm_rmsnorm(xb2, gb, nb)) return 2;
  int bad = 0;
  for (int n = 0; n < N; ++n) {
    double exact = 0, magnitude = 0;
    for (int k = 0; k < K; ++k) { exact += double(w[n][k]) * x[k]; magnitude += std::fabs(w[n][k] * x[k]); }
    if (std::fabs(y[n] - exact) > (K / 4 + 4) * std::ldexp(1.0, -24) * magnitude) ++bad;
  }
  double ss = 0;
  for (int k = 0; k < K; ++k) ss += double(x[k]) * x[k];
  for (int k = 0; k < K; ++k) {
    double e = x[k] / std::sqrt(ss / K + 1e-5) * weight[k];
    if (std::fabs(norm[k] - e) > 1e-5 * (1 + std::fabs(e))) ++bad;
  }
  std::printf("%d mismatches\n", bad);
  return bad ? 1 : 0;
}
)";

// Bonus check of the aarch64 family: its objects link with the cross compiler and compute the
// right values under qemu-aarch64. Skipped where the cross tools are not installed.
TEST_F(KernelCacheTest, Aarch64KernelsRunUnderQemu) {
  const char *cxx = "/usr/bin/aarch64-linux-gnu-g++", *qemu = "/usr/bin/qemu-aarch64";
  if (!fs::exists(cxx) || !fs::exists(qemu)) GTEST_SKIP() << "aarch64 cross compiler or qemu-aarch64 not installed";
  KernelCache cache(directory);
  CompiledKernel matvec =
      cache.instantiate({"matvec",
                         {{"weight_type", GGMLType::F32}, {"in_features", 100}, {"out_features", 37}},
                         "aarch64-neon-dotprod",
                         "arm_matvec"});
  CompiledKernel norm = cache.instantiate({"rmsnorm", {{"channels", 100}}, "aarch64-neon", "arm_rmsnorm"});
  fs::path work = directory / "arm";
  fs::create_directories(work);
  fs::copy_file(matvec.header, work / "matvec.h");
  fs::copy_file(norm.header, work / "rmsnorm.h");
  std::ofstream(work / "driver.cpp") << kArmDriver;
  std::string build = std::string(cxx) + " -O1 -I" + work.string() + " -I/usr/include/halide14 " +
                      (work / "driver.cpp").string() + " " + matvec.object.string() + " " + norm.object.string() + " " +
                      cache.runtime("aarch64-neon").string() + " -lpthread -ldl -o " + (work / "driver").string();
  ASSERT_EQ(std::system(build.c_str()), 0) << build;
  std::string run = std::string(qemu) + " -L /usr/aarch64-linux-gnu " + (work / "driver").string();
  EXPECT_EQ(std::system(run.c_str()), 0) << run;
}

TEST(KernelCacheDirectory, EnvironmentOverrides) {
  setenv("GRANITEC_KERNEL_CACHE", "/tmp/granite-explicit", 1);
  EXPECT_EQ(KernelCache::defaultDirectory(), fs::path("/tmp/granite-explicit"));
  unsetenv("GRANITEC_KERNEL_CACHE");
  setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(KernelCache::defaultDirectory(), fs::path("/tmp/xdg/granitec/kernels"));
  unsetenv("XDG_CACHE_HOME");
}

TEST(KernelCacheRegistry, ListsEveryKernelFamily) {
  auto names = KernelCache::generators();
  for (const char *expected : {"matvec", "matmul", "expert_matvec", "embedding", "rmsnorm", "gated_rmsnorm", "swiglu",
                               "rope", "attention", "ssm_conv", "ssm_scan", "moe_router"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

} // namespace
} // namespace granite::kernels
