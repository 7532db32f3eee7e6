// support::AtomicFile: the file appears whole under its name or not at all, and every failure is one FileError naming
// the file and the reason.
#include "Support/AtomicFile.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/resource.h>
#include <unistd.h>

namespace granite::support {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("granite-atomic-file-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string &name) const { return (dir_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto &entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
    return names;
  }
  static std::string read(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, AppearsOnlyOnCommit) {
  {
    AtomicFile file(path("out"));
    file.stream() << "hello";
    EXPECT_EQ(file.stream().tellp(), 5);
    EXPECT_FALSE(fs::exists(path("out")));
    file.commit();
  }
  EXPECT_EQ(read(path("out")), "hello");
  EXPECT_EQ(entries(), std::vector<std::string>{"out"});
  writeFileAtomically(path("out"), "replaced");
  EXPECT_EQ(read(path("out")), "replaced");
}

TEST_F(AtomicFileTest, WithoutCommitNothingIsLeft) {
  writeFileAtomically(path("out"), "old");
  {
    AtomicFile file(path("out"));
    file.stream() << "new";
  }
  EXPECT_EQ(read(path("out")), "old");
  EXPECT_EQ(entries(), std::vector<std::string>{"out"});
}

TEST_F(AtomicFileTest, StreamAppendsToWhatAToolWrote) {
  AtomicFile file(path("exe"));
  std::ofstream(file.temporaryPath(), std::ios::binary) << "linked";
  file.stream() << "+payload";
  EXPECT_EQ(file.stream().tellp(), 14);
  file.commit();
  EXPECT_EQ(read(path("exe")), "linked+payload");
}

TEST_F(AtomicFileTest, SeekingPastTheEndLeavesZeros) {
  AtomicFile file(path("holes"));
  file.stream() << "ab";
  file.stream().seekp(5);
  file.stream() << "c";
  EXPECT_EQ(file.stream().tellp(), 6);
  file.commit();
  EXPECT_EQ(read(path("holes")), std::string("ab\0\0\0c", 6));
}

TEST_F(AtomicFileTest, FailuresNameTheFileAndTheReason) {
  fs::create_directories(dir_ / "dir");
  try {
    AtomicFile file(path("dir"));
    FAIL() << "a directory was taken as a file";
  } catch (const FileError &e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '" + path("dir") + "': Is a directory");
  }
  try {
    writeFileAtomically(path("missing/out"), "x");
    FAIL() << "a file in a missing directory was written";
  } catch (const FileError &e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '" + path("missing/out") + "': No such file or directory");
  }
}

TEST_F(AtomicFileTest, AWriteErrorThrowsAndLeavesNothing) {
  // RLIMIT_FSIZE stands in for a full disk; with SIGXFSZ ignored the write fails with EFBIG.
  auto previousHandler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit previous{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &previous), 0);
  rlimit small = previous;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    AtomicFile file(path("big"));
    const std::string chunk(1 << 16, 'x');
    file.stream() << chunk << chunk;
    file.commit();
  } catch (const FileError &e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &previous);
  std::signal(SIGXFSZ, previousHandler);
  EXPECT_EQ(message, "cannot write '" + path("big") + "': File too large");
  EXPECT_TRUE(entries().empty());
}

} // namespace
} // namespace granite::support
