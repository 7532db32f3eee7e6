// The runtime's main as a separate process: stdin is a pipe (no prompt is shown) or a terminal (the "> " prompt goes
// to stderr), Ctrl-C arrives as a real SIGINT from outside and ends only the current reply, --serve answers HTTP until
// SIGINT, and the exit statuses are what --help promises.
#include "GraniteVocabularyFixture.h"
#include "runtime/VocabularyBlob.h"
#include "test/TestFiles.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace granite::runtime::testing {
namespace {

struct ProcessSetup {
  bool terminalStdin = false; ///< stdin is a pseudo-terminal instead of a pipe
  std::vector<std::pair<std::string, std::string>> environment;
};

/// A child process running FakeGraniteCli with pipes (or a terminal for stdin) on stdin, stdout and stderr.
class FakeCliProcess {
public:
  explicit FakeCliProcess(const std::vector<std::string> &args, const ProcessSetup &setup = {}) {
    static const std::string blobPath = writeBlob();
    int in[2], out[2], err[2];
    if (setup.terminalStdin) {
      in[1] = posix_openpt(O_RDWR | O_NOCTTY);
      if (in[1] < 0 || grantpt(in[1]) || unlockpt(in[1])) throw std::runtime_error("no pseudo-terminal");
      in[0] = open(ptsname(in[1]), O_RDWR | O_NOCTTY);
      if (in[0] < 0) throw std::runtime_error("cannot open the pseudo-terminal");
    } else if (pipe(in)) {
      throw std::runtime_error("pipe failed");
    }
    if (pipe(out) || pipe(err)) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
      setenv("GRANITE_FAKE_VOCABULARY", blobPath.c_str(), 1);
      unsetenv("GRANITE_API_KEY");
      for (const auto &[name, value] : setup.environment) setenv(name.c_str(), value.c_str(), 1);
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
  bool waitForOutput(const std::string &text, double seconds) { return waitFor(stdout_, out, text, 0, seconds); }
  /// Reads stderr until it contains `text` at or after `from`, or `seconds` pass.
  bool waitForError(const std::string &text, double seconds, size_t from = 0) {
    return waitFor(stderr_, err, text, from, seconds);
  }

  /// Waits for the exit status, collecting the rest of stdout and stderr.
  int finish() {
    while (readSome(stdout_, out)) {
    }
    while (readSome(stderr_, err)) {
    }
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
  static bool waitFor(int fd, std::string &into, const std::string &text, size_t from, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (into.find(text, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0 && !readSome(fd, into)) return false;
    }
    return true;
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
  EXPECT_LT(process.out.size(), 4000u * 5) << "the first reply should have been cut short";
  EXPECT_EQ(process.err, "");
}

TEST(CliProcess, ExitStatusesAreAsDocumented) {
  FakeCliProcess unknown({"--frobnicate"});
  EXPECT_EQ(unknown.finish(), 2);
  EXPECT_EQ(unknown.err,
            std::string(GRANITE_BIN_DIR) + "/FakeGraniteCli: unknown option '--frobnicate' (see --help)\n");

  FakeCliProcess help({"--help"});
  EXPECT_EQ(help.finish(), 0);
  EXPECT_NE(help.out.find("Exit status: 0 success, 1 runtime error, 2 bad command line."), std::string::npos);

  FakeCliProcess emptyPrompt({"-p", ""});
  EXPECT_EQ(emptyPrompt.finish(), 1);
  EXPECT_NE(emptyPrompt.err.find("the prompt has no tokens"), std::string::npos) << emptyPrompt.err;
}

/// The fake executable as a shell command (its vocabulary blob written by an earlier FakeCliProcess).
std::string fakeCliCommand() {
  FakeCliProcess({"--help"}).finish();
  return std::string("env GRANITE_FAKE_VOCABULARY=") + GRANITE_BIN_DIR + "/fake-cli-vocabulary.bin " + GRANITE_BIN_DIR +
         "/FakeGraniteCli";
}

TEST(CliProcess, AClosedOutputPipeEndsTheRunAtOnceAndQuietly) {
  // The reply ticks for 20 s at least; the bound of 15 s leaves room for a slow start under sanitizers and load.
  // SIGPIPE's default action ends the process (status 141); where SIGPIPE is ignored, as a parent may leave it, EPIPE
  // ends the reply and the process exits 0. Either way nothing on stderr.
  for (const std::string setup : {"", "trap '' PIPE; "}) {
    auto start = std::chrono::steady_clock::now();
    test::ShellResult run = test::runShell("exec 3>&1; (" + setup + "timeout 60 " + fakeCliCommand() +
                                           " -p tick 2>&3; echo \"status $?\" >&3) | head -c 1 >/dev/null");
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(run.output == "status 141\n" || run.output == "status 0\n") << setup << run.output;
    EXPECT_LT(seconds, 15) << setup;
  }
}

TEST(CliProcess, AFullDiskIsOneLineAndStatusOne) {
  test::ShellResult run = test::runShell(fakeCliCommand() + " -p tick -n 3 2>&1 >/dev/full");
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output, std::string(GRANITE_BIN_DIR) + "/FakeGraniteCli: error: cannot write the output: No space "
                                                       "left on device\n");
}

TEST(CliProcess, PromptFromAPipedStdin) {
  FakeCliProcess process({"-p", "-", "-n", "3"});
  process.write("Count\nfor me.\n");
  process.closeStdin();
  EXPECT_EQ(process.finish(), 0) << process.err;
  EXPECT_EQ(process.out, " tick tick tick\n");
  EXPECT_EQ(process.err, "");
}

TEST(CliProcess, ThePromptGoesToStderrWhenStdinIsATerminal) {
  FakeCliProcess process({"--chat", "-n", "2"}, ProcessSetup{/*terminalStdin=*/true, {}});
  process.write("Count for me.\n\x04"); // a line, then Ctrl-D: end of input
  EXPECT_EQ(process.finish(), 0) << process.err;
  EXPECT_EQ(process.out, " tick tick\n");
  EXPECT_EQ(process.err, "> > ");
}

/// One HTTP/1.1 GET on 127.0.0.1:`port`; the whole response (status line, headers, body), or "" on failure.
std::string httpGet(int port, const std::string &path, const std::string &headers = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + headers + "\r\n";
    if (::write(fd, request.data(), request.size()) == ssize_t(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return response;
}

TEST(CliProcess, ServeAnswersWithTheProgramsNameAndKeyUntilSigint) {
  for (bool keyFromEnvironment : {false, true}) {
    SCOPED_TRACE(keyFromEnvironment ? "GRANITE_API_KEY" : "--api-key");
    ProcessSetup setup;
    std::vector<std::string> args = {"--serve", "--port", "0"};
    if (keyFromEnvironment)
      setup.environment = {{"GRANITE_API_KEY", "sekrit"}};
    else
      args.insert(args.end(), {"--api-key", "sekrit"});
    FakeCliProcess process(args, setup);
    const std::string listening = "listening on http://127.0.0.1:";
    ASSERT_TRUE(process.waitForError(listening, 60)) << process.err;
    ASSERT_TRUE(process.waitForError("\n", 10, process.err.find(listening))) << process.err;
    const int port = std::atoi(process.err.c_str() + process.err.find(listening) + listening.size());
    ASSERT_GT(port, 0) << process.err;

    EXPECT_EQ(httpGet(port, "/v1/models").rfind("HTTP/1.1 401", 0), 0u);
    std::string models = httpGet(port, "/v1/models", "Authorization: Bearer sekrit\r\n");
    EXPECT_EQ(models.rfind("HTTP/1.1 200", 0), 0u) << models;
    EXPECT_NE(models.find("\"FakeGraniteCli\""), std::string::npos) << "the model is named after the program";
    process.interrupt();
    EXPECT_EQ(process.finish(), 0) << process.err;
  }
}

} // namespace
} // namespace granite::runtime::testing
