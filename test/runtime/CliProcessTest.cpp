// The runtime's main as a separate process: stdin is a pipe (no prompt is shown), Ctrl-C arrives as a real SIGINT
// from outside and ends only the current reply, and the exit statuses are what --help promises.
#include "GraniteVocabularyFixture.h"
#include "runtime/VocabularyBlob.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <csignal>
#include <fstream>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace granite::runtime::testing {
namespace {

/// A child process running FakeGraniteCli with pipes on stdin, stdout and stderr.
class FakeCliProcess {
public:
  explicit FakeCliProcess(const std::vector<std::string> &args) {
    static const std::string blobPath = writeBlob();
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
      setenv("GRANITE_FAKE_VOCABULARY", blobPath.c_str(), 1);
      std::vector<char *> argv;
      std::string program = std::string(GRANITE_BIN_DIR) + "/FakeGraniteCli";
      argv.push_back(program.data());
      std::vector<std::string> copies = args;
      for (std::string &arg : copies) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(program.c_str(), argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
  }
  ~FakeCliProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : {stdin_, stdout_, stderr_})
      if (fd >= 0) close(fd);
  }

  void write(const std::string &text) { ASSERT_EQ(::write(stdin_, text.data(), text.size()), ssize_t(text.size())); }
  void closeStdin() {
    close(stdin_);
    stdin_ = -1;
  }
  void interrupt() { kill(pid_, SIGINT); }

  /// Reads stdout until it contains `text` or `seconds` pass.
  bool waitForOutput(const std::string &text, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (out.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, 50) > 0 && !readSome(stdout_, out)) return false;
    }
    return true;
  }

  /// Waits for the exit status, collecting the rest of stdout and stderr.
  int finish() {
    while (readSome(stdout_, out)) {}
    while (readSome(stderr_, err)) {}
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string out, err;

private:
  static std::string writeBlob() {
    std::vector<uint8_t> blob = serializeVocabulary(graniteVocabulary());
    // Parallel test processes each write their own file and rename it into place.
    std::string path = std::string(GRANITE_BIN_DIR) + "/fake-cli-vocabulary.bin";
    std::string temporary = path + ".tmp" + std::to_string(getpid());
    std::ofstream(temporary, std::ios::binary).write(reinterpret_cast<const char *>(blob.data()), blob.size());
    if (std::rename(temporary.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
    return path;
  }
  static bool readSome(int fd, std::string &into) {
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    into.append(buffer, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  bool exited_ = false;
};

TEST(CliProcess, SigintEndsTheReplyAndTheChatGoesOn) {
  FakeCliProcess process({"--chat"});
  process.write("Count for me.\n");
  ASSERT_TRUE(process.waitForOutput(" tick tick", 60)) << process.out << process.err;
  process.interrupt();
  process.write("Are you done?\n");
  process.closeStdin();
  EXPECT_EQ(process.finish(), 0) << process.err;
  EXPECT_EQ(process.out.rfind("\ndone\n"), process.out.size() - 6) << process.out.substr(0, 200);
  EXPECT_EQ(process.out.rfind("> ", 0), std::string::npos) << "no prompt when stdin is a pipe";
  EXPECT_LT(process.out.size(), 2000u * 5) << "the first reply should have been cut short";
  EXPECT_EQ(process.err, "");
}

TEST(CliProcess, ExitStatusesAreAsDocumented) {
  FakeCliProcess unknown({"--frobnicate"});
  EXPECT_EQ(unknown.finish(), 2);
  EXPECT_EQ(unknown.err, std::string(GRANITE_BIN_DIR) + "/FakeGraniteCli: unknown option '--frobnicate' (see --help)\n");

  FakeCliProcess help({"--help"});
  EXPECT_EQ(help.finish(), 0);
  EXPECT_NE(help.out.find("Exit status: 0 success, 1 runtime error, 2 bad command line."), std::string::npos);

  FakeCliProcess emptyPrompt({"-p", ""});
  EXPECT_EQ(emptyPrompt.finish(), 1);
  EXPECT_NE(emptyPrompt.err.find("the prompt has no tokens"), std::string::npos) << emptyPrompt.err;
}

} // namespace
} // namespace granite::runtime::testing
