// The pieces of the OCI image writer: SHA-256 against FIPS 180-4's vectors, the tar writer against GNU tar, and the
// runtime dependencies of an ELF file against ldd.
#include "Codegen/OciImage.h"
#include "Codegen/Sha256.h"
#include "Codegen/Tar.h"

#include "test/TestFiles.h"
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace granite::codegen {
namespace {

namespace fs = std::filesystem;
using granite::test::readFile;
using granite::test::runShell;

const fs::path kWork = fs::path(GRANITE_TEST_WORK_DIR) / ("format." + std::to_string(getpid()));

std::string sha256Hex(std::string_view text) {
  Sha256 hash;
  hash.update(text.data(), text.size());
  return hash.hexDigest();
}

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the length no longer fits the first padding block.
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecesOfAnySizeGiveTheSameDigest) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += char(i * 7 + 3);
  const std::string whole = sha256Hex(text);
  for (size_t piece : {1, 3, 63, 64, 65, 200}) {
    Sha256 hash;
    for (size_t at = 0; at < text.size(); at += piece) hash.update(text.data() + at, std::min(piece, text.size() - at));
    EXPECT_EQ(hash.hexDigest(), whole) << "pieces of " << piece;
  }
}

class TarWriterTest : public ::testing::Test {
protected:
  void SetUp() override { fs::create_directories(kWork); }
  void TearDown() override { fs::remove_all(kWork); }
};

TEST_F(TarWriterTest, GnuTarExtractsEveryKindOfEntry) {
  const std::string longName = "deep/" + std::string(120, 'n') + "/file"; // past ustar's 100 bytes: a pax path
  const std::string name100 = std::string(100, 'm');                      // exactly ustar's 100 bytes
  const fs::path source = kWork / "source.bin";
  std::string sourceBytes;
  for (int i = 0; i < 5000; ++i) sourceBytes += char(i % 251);
  std::ofstream(source, std::ios::binary) << sourceBytes;

  auto write = [](const std::string &name, const std::string &contents) {
    std::ofstream(kWork / name, std::ios::binary) << contents;
    return (kWork / name).string();
  };
  std::string archive, error;
  TarWriter tar([&](const char *data, size_t size) { archive.append(data, size); }, 1700000000);
  tar.directory("granite");
  EXPECT_TRUE(tar.fileFrom("granite/run", write("run", "#!/bin/sh\n"), 0755, error)) << error;
  EXPECT_TRUE(tar.fileFrom("granite/empty", write("empty", ""), 0644, error)) << error;
  EXPECT_TRUE(tar.fileFrom("granite/data.bin", source.string(), 0600, error)) << error;
  tar.directory("deep");
  tar.directory("deep/" + std::string(120, 'n'));
  EXPECT_TRUE(tar.fileFrom(longName, write("long", "long"), 0644, error)) << error;
  EXPECT_TRUE(tar.fileFrom(name100, write("hundred", "hundred"), 0644, error)) << error;
  tar.finish();
  ASSERT_EQ(archive.size() % 512, 0u);
  std::ofstream(kWork / "a.tar", std::ios::binary) << archive;

  fs::create_directories(kWork / "out");
  auto [status, listing] =
      runShell("TZ=UTC tar --numeric-owner --full-time -tvf " + (kWork / "a.tar").string() + " 2>&1");
  ASSERT_EQ(status, 0) << listing;
  std::istringstream lines(listing);
  std::string runLine;
  for (std::string line; std::getline(lines, line);)
    if (line.size() > 12 && line.substr(line.size() - 12) == " granite/run") runLine = line;
  EXPECT_EQ(runLine.rfind("-rwxr-xr-x 0/0 ", 0), 0u) << listing;
  EXPECT_NE(runLine.find(" 10 2023-11-14 22:13:20 "), std::string::npos) << listing;
  ASSERT_EQ(runShell("tar -C " + (kWork / "out").string() + " -xf " + (kWork / "a.tar").string()).status, 0);
  EXPECT_EQ(readFile(kWork / "out/granite/run"), "#!/bin/sh\n");
  EXPECT_EQ(readFile(kWork / "out/granite/empty"), "");
  EXPECT_EQ(readFile(kWork / "out/granite/data.bin"), sourceBytes);
  EXPECT_EQ(readFile(kWork / "out" / longName), "long");
  EXPECT_EQ(readFile(kWork / "out" / name100), "hundred");
  struct stat info{};
  ASSERT_EQ(stat((kWork / "out/granite/data.bin").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
}

TEST(TarHeader, SizesPast8GiBGoInAPaxRecord) {
  const uint64_t size = uint64_t(1) << 34; // ustar's size field holds 11 octal digits: at most 8 GiB - 1
  const std::string header = tarHeader("granite/OUT", '0', size, 0755, 0);
  ASSERT_EQ(header.size(), 3u * 512); // pax header, its records, the ustar block
  EXPECT_EQ(header[156], 'x');
  // The record's length counts the whole record, its own digits included.
  const std::string record = "20 size=17179869184\n";
  ASSERT_EQ(record.size(), 20u);
  EXPECT_EQ(header.substr(512, record.size()), record);
  EXPECT_EQ(header.substr(1024 + 124, 12), std::string("00000000000") + '\0');
  EXPECT_EQ(tarHeader("granite/OUT", '0', (uint64_t(1) << 33) - 1, 0755, 0).size(), 512u);
}

TEST(TarHeader, ChecksumCountsTheFieldAsSpaces) {
  const std::string header = tarHeader("granite/OUT", '0', 1234, 0755, 99);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += i >= 148 && i < 156 ? ' ' : static_cast<unsigned char>(header[i]);
  EXPECT_EQ(std::stoul(header.substr(148, 6), nullptr, 8), sum);
}

TEST_F(TarWriterTest, MissingSourceIsOneLine) {
  TarWriter tar([](const char *, size_t) {}, 0);
  std::string error;
  EXPECT_FALSE(tar.fileFrom("granite/OUT", (kWork / "absent").string(), 0755, error));
  EXPECT_NE(error.find("absent"), std::string::npos) << error;
}

TEST(RuntimeDependencies, TheLoaderAndEveryLibraryLddFinds) {
  std::vector<OciFile> files;
  std::string error;
  ASSERT_TRUE(runtimeDependencies("/proc/self/exe", files, error)) << error;
  auto [status, ldd] = runShell("ldd /proc/" + std::to_string(getpid()) + "/exe");
  ASSERT_EQ(status, 0);
  // ldd's lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)".
  std::string loader;
  std::set<std::string> libraries;
  std::istringstream lines(ldd);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string name, arrow;
    words >> name >> arrow;
    if (arrow == "=>")
      libraries.insert(name);
    else if (name[0] == '/')
      loader = name.substr(1);
  }
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0].path, loader) << ldd;
  std::set<std::string> found;
  for (size_t i = 1; i < files.size(); ++i) {
    EXPECT_EQ(fs::path(files[i].path).parent_path().parent_path(), "lib") << files[i].path;
    found.insert(fs::path(files[i].path).filename().string());
  }
  EXPECT_EQ(found, libraries) << ldd;
  for (const OciFile &file : files) EXPECT_TRUE(fs::is_regular_file(file.source)) << file.source;
}

TEST(RuntimeDependencies, RefusesWhatIsNotElf) {
  std::vector<OciFile> files;
  std::string error;
  EXPECT_FALSE(runtimeDependencies(GRANITE_SOURCE_DIR "/README.md", files, error));
  EXPECT_NE(error.find("not a 64-bit little-endian ELF"), std::string::npos) << error;
}

} // namespace
} // namespace granite::codegen
