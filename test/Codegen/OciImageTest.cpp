// `granitec compile --oci` on the golden dense model: the layout as skopeo reads it, unpacked by umoci, and the
// executable run from the unpacked rootfs alone (chroot in a user namespace, or qemu-aarch64 -L for arm64).
#include "test/TestFiles.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using granite::test::readFile;
using Result = granite::test::ShellResult;

/// A shell command's status and its stdout and stderr together.
Result shell(const std::string &command) { return granite::test::runShell(command + " 2>&1"); }

using nlohmann::json;

/// Every regular file under `root`, relative to it.
std::set<std::string> filesUnder(const fs::path &root) {
  std::set<std::string> files;
  for (const auto &entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) files.insert(fs::relative(entry.path(), root).string());
  return files;
}

class OciImage : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char *tool : {"skopeo", "umoci"})
      if (shell(std::string("command -v ") + tool).status != 0)
        GTEST_SKIP() << tool << " is not installed (scripts/setup installs it)";
    fs::create_directories(work_);
    setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  }
  void TearDown() override { fs::remove_all(work_); }

  /// `granitec compile dense-f32 -o OUT --oci DIR:TAG` plus `extra`; the result of the command.
  Result compile(const fs::path &out, const std::string &oci, const std::string &extra = "") {
    return shell(std::string(GRANITE_BIN_DIR) + "/granitec compile " + GRANITE_GOLDEN_DIR +
                 "/models/dense-f32.gguf --ctx 64 --max-tokens 32 -q -o " + out.string() + " --oci " + oci + " " +
                 extra);
  }

  /// Unpacks `reference` (DIR:TAG of a single image) with umoci; returns the rootfs.
  fs::path unpack(const std::string &reference, const std::string &bundle) {
    Result unpacked = shell("umoci unpack --rootless --image " + reference + " " + (work_ / bundle).string());
    EXPECT_EQ(unpacked.status, 0) << unpacked.output;
    return work_ / bundle / "rootfs";
  }

  /// Runs `/granite/<name> args` with `rootfs` as the root directory, so that only the image's loader and libraries
  /// are there to be found; /proc is mounted because the executable maps itself through /proc/self/exe.
  Result runInRootfs(const fs::path &rootfs, const std::string &command) {
    fs::create_directories(rootfs / "proc");
    return shell("unshare --user --map-root-user --mount --pid --fork --mount-proc=" + (rootfs / "proc").string() +
                 " chroot " + rootfs.string() + " " + command);
  }

  const fs::path work_ = fs::path(GRANITE_TEST_WORK_DIR) / ("oci." + std::to_string(getpid()));
};

TEST_F(OciImage, OneTargetRunsFromItsOwnRootfs) {
  const fs::path layout = work_ / "layout";
  Result compiled = compile(work_ / "dense", layout.string() + ":dense");
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  Result info = shell((work_ / "dense").string() + " --info");
  ASSERT_EQ(info.status, 0) << info.output;

  Result inspected = shell("skopeo inspect oci:" + layout.string() + ":dense");
  ASSERT_EQ(inspected.status, 0) << inspected.output;
  json image = json::parse(inspected.output);
  EXPECT_EQ(image["Os"], "linux");
  EXPECT_EQ(image["Architecture"], shell("uname -m").output == "aarch64\n" ? "arm64" : "amd64");
  EXPECT_EQ(image["Created"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(image["Layers"].size(), 2u) << "the loader and libraries, then the executable";
  const std::string target = image["Labels"]["granitec.target"];
  EXPECT_NE(info.output.find("target: " + target + "\n"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("build id: " + image["Labels"]["granitec.build-id"].get<std::string>() + "\n"),
            std::string::npos)
      << info.output;
  EXPECT_EQ(image["Labels"]["granitec.variant"], "custom"); // the golden models have no published variant's shapes

  Result config = shell("skopeo inspect --config oci:" + layout.string() + ":dense");
  ASSERT_EQ(config.status, 0) << config.output;
  json run = json::parse(config.output)["config"];
  EXPECT_EQ(run["Entrypoint"], json({"/granite/dense"}));
  EXPECT_EQ(run["Cmd"], json({"--serve", "--host", "0.0.0.0", "--port", "8080"}));
  EXPECT_EQ(run["ExposedPorts"], json({{"8080/tcp", json::object()}}));
  EXPECT_EQ(run["WorkingDir"], "/granite");

  const fs::path rootfs = unpack(layout.string() + ":dense", "bundle");
  std::set<std::string> files = filesUnder(rootfs);
  EXPECT_EQ(files.count("granite/dense"), 1u) << "rootfs holds: " << json(files).dump();
  EXPECT_EQ(readFile(rootfs / "granite/dense"), readFile(work_ / "dense"));
  for (const std::string &file : files)
    EXPECT_TRUE(file == "granite/dense" || file.rfind("lib", 0) == 0) << "unexpected " << file;

  if (shell("unshare --user --map-root-user true").status != 0)
    GTEST_SKIP() << "cannot run the executable inside its rootfs: unshare --user is not permitted here";
  Result inside = runInRootfs(rootfs, "/granite/dense --info");
  ASSERT_EQ(inside.status, 0) << inside.output;
  EXPECT_NE(inside.output.find("weights: 4985856 bytes in /granite/dense (embedded)"), std::string::npos)
      << inside.output;
}

TEST_F(OciImage, SameInputsGiveTheSameDigests) {
  for (const char *copy : {"a", "b"}) {
    fs::create_directories(work_ / copy);
    Result compiled = compile(work_ / copy / "dense", (work_ / copy / "layout").string(), "--weights=external");
    ASSERT_EQ(compiled.status, 0) << compiled.output;
  }
  EXPECT_EQ(readFile(work_ / "a/layout/index.json"), readFile(work_ / "b/layout/index.json"));
  EXPECT_EQ(filesUnder(work_ / "a/layout"), filesUnder(work_ / "b/layout"));
  // External weights go beside the executable, where it looks for them.
  const fs::path rootfs = unpack((work_ / "a/layout").string() + ":latest", "bundle");
  EXPECT_EQ(readFile(rootfs / "granite/dense.weights"), readFile(work_ / "a/dense.weights"));
}

TEST_F(OciImage, ATagIsReplacedAndOtherTagsStay) {
  const std::string layout = (work_ / "layout").string();
  ASSERT_EQ(compile(work_ / "dense", layout + ":one").status, 0);
  ASSERT_EQ(compile(work_ / "dense", layout + ":two", "--weights=external").status, 0);
  ASSERT_EQ(compile(work_ / "dense", layout + ":one", "--weights=external").status, 0);
  json index = json::parse(readFile(work_ / "layout/index.json"));
  ASSERT_EQ(index["manifests"].size(), 2u) << index.dump();
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "two");
  EXPECT_EQ(index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"], "one");
  EXPECT_EQ(index["manifests"][0]["digest"], index["manifests"][1]["digest"]);

  fs::create_directories(work_ / "other");
  std::ofstream(work_ / "other/file") << "not a layout";
  Result refused = compile(work_ / "dense", (work_ / "other").string());
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.output.find("is neither empty nor an OCI image layout"), std::string::npos) << refused.output;
}

TEST_F(OciImage, SeveralTargetsMakeOneIndexWithAManifestPerPlatform) {
  const std::string layout = (work_ / "layout").string();
  std::vector<std::string> targets = {"x86-64-avx2", "x86-64-avx512", "aarch64-neon"};
  Result compiled =
      compile(work_ / "dense", layout, "--target x86-64-avx2 --target x86-64-avx512 --target aarch64-neon");
  if (compiled.status != 0 && compiled.output.find("built without the aarch64 runtime") != std::string::npos) {
    std::cerr << "note: " << compiled.output << "  checking the two x86-64 platforms only\n";
    targets.pop_back();
    compiled = compile(work_ / "dense", layout, "--target x86-64-avx2 --target x86-64-avx512");
  }
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  for (const std::string &target : targets) EXPECT_TRUE(fs::exists(work_ / ("dense." + target))) << target;

  Result raw = shell("skopeo inspect --raw oci:" + layout + ":latest");
  ASSERT_EQ(raw.status, 0) << raw.output;
  json index = json::parse(raw.output);
  EXPECT_EQ(index["mediaType"], "application/vnd.oci.image.index.v1+json");
  const std::vector<std::pair<std::string, std::string>> platforms = {{"amd64", ""}, {"amd64", "v4"}, {"arm64", "v8"}};
  ASSERT_EQ(index["manifests"].size(), targets.size()) << raw.output;
  for (size_t i = 0; i < targets.size(); ++i) {
    const json &platform = index["manifests"][i]["platform"];
    EXPECT_EQ(platform["os"], "linux");
    EXPECT_EQ(platform["architecture"], platforms[i].first) << targets[i];
    EXPECT_EQ(platform.value("variant", ""), platforms[i].second) << targets[i];
  }

  // What a runtime on each platform pulls: skopeo chooses by platform, and the image carries that family's build.
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto &[architecture, variant] = platforms[i];
    const std::string choose = "--override-os linux --override-arch " + architecture +
                               (variant.empty() ? "" : " --override-variant " + variant);
    Result inspected = shell("skopeo inspect " + choose + " oci:" + layout + ":latest");
    ASSERT_EQ(inspected.status, 0) << inspected.output;
    EXPECT_EQ(json::parse(inspected.output)["Labels"]["granitec.target"], targets[i]);
    const std::string single = (work_ / ("single-" + targets[i])).string() + ":latest";
    Result copied = shell("skopeo copy " + choose + " oci:" + layout + ":latest oci:" + single);
    ASSERT_EQ(copied.status, 0) << copied.output;
    const fs::path rootfs = unpack(single, "bundle-" + targets[i]);
    EXPECT_EQ(readFile(rootfs / "granite/dense"), readFile(work_ / ("dense." + targets[i]))) << targets[i];
  }

  // The portable amd64 image runs from its own rootfs; the arm64 one under qemu with only its rootfs as the root.
  if (shell("unshare --user --map-root-user true").status == 0) {
    Result inside = runInRootfs(work_ / "bundle-x86-64-avx2/rootfs", "/granite/dense --info");
    ASSERT_EQ(inside.status, 0) << inside.output;
    EXPECT_NE(inside.output.find("target: x86-64-avx2\n"), std::string::npos) << inside.output;
  } else {
    std::cerr << "note: unshare --user is not permitted here: the amd64 executable was not run\n";
  }
  if (targets.size() == 3) {
    if (shell("command -v qemu-aarch64").status != 0)
      GTEST_SKIP() << "qemu-aarch64 is not installed: the arm64 executable was not run";
    const fs::path rootfs = work_ / "bundle-aarch64-neon/rootfs";
    Result arm = shell("qemu-aarch64 -L " + rootfs.string() + " " + (rootfs / "granite/dense").string() + " --info");
    ASSERT_EQ(arm.status, 0) << arm.output;
    EXPECT_NE(arm.output.find("target: aarch64-neon\n"), std::string::npos) << arm.output;
  }
}

TEST_F(OciImage, TargetsOfOnePlatformAreRefused) {
  Result refused =
      compile(work_ / "dense", (work_ / "layout").string(), "--target x86-64-avx512 --target x86-64-avx512-bf16");
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.output.find("are both linux/amd64/v4"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(work_ / "layout"));
}

} // namespace
