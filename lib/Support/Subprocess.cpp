#include "Support/Subprocess.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace granite::support {

bool runProcess(const std::vector<std::string> &argv, int &exitStatus, std::string *output, std::string &error) {
  int log = -1;
  if (output) {
    std::error_code noTemp;
    std::filesystem::path directory = std::filesystem::temp_directory_path(noTemp);
    std::string logPath = ((noTemp ? "/tmp" : directory) / "granitec-output-XXXXXX").string();
    log = mkstemp(logPath.data());
    if (log < 0) {
      error = "cannot create a temporary file for the output of '" + argv[0] + "': " + std::strerror(errno);
      return false;
    }
    unlink(logPath.c_str());
  }
  std::vector<char *> args;
  for (const std::string &arg : argv) args.push_back(const_cast<char *>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (output) {
    posix_spawn_file_actions_adddup2(&actions, log, 1);
    posix_spawn_file_actions_adddup2(&actions, log, 2);
  }
  pid_t child = 0;
  const int spawned = posix_spawnp(&child, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  int wait = 0;
  while (spawned == 0 && waitpid(child, &wait, 0) < 0 && errno == EINTR) {
  }
  if (output) {
    char buffer[4096];
    for (ssize_t n, offset = 0; (n = pread(log, buffer, sizeof buffer, offset)) > 0; offset += n)
      output->append(buffer, n);
    close(log);
  }
  if (spawned != 0) {
    error = "cannot run '" + argv[0] + "': " + std::strerror(spawned);
    return false;
  }
  if (!WIFEXITED(wait)) {
    error = "'" + argv[0] + "' did not finish (signal " + std::to_string(WTERMSIG(wait)) + ")";
    return false;
  }
  exitStatus = WEXITSTATUS(wait);
  return true;
}

} // namespace granite::support
