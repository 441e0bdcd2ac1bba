#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/personality.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "seccomp_filter.h"
#include "wire.h"

namespace liveprobe {

HeldChild spawnHeld(const RunOptions& opts, const std::vector<sock_filter>* filter) {
  HeldChild out;
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls (the Node process is multithreaded).
  std::vector<char*> argv, envp;
  for (const auto& a : opts.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : opts.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* path = opts.file.c_str();
  const char* cwd = opts.cwd.empty() ? nullptr : opts.cwd.c_str();
  int stdio[3] = {opts.stdio[0], opts.stdio[1], opts.stdio[2]};
  bool no_aslr = opts.no_aslr;

  int sync[2], err[2];
  if (pipe2(sync, O_CLOEXEC) != 0) {
    out.err = errno;
    out.what = "pipe";
    return out;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    out.err = errno;
    out.what = "pipe";
    close(sync[0]);
    close(sync[1]);
    return out;
  }
  pid_t pid = fork();
  if (pid < 0) {
    out.err = errno;
    out.what = "fork";
    for (int fd : {sync[0], sync[1], err[0], err[1]}) close(fd);
    return out;
  }
  if (pid == 0) {
    auto fail = [&](int site) {
      int payload[2] = {errno, site};
      ssize_t n = write(err[1], payload, sizeof payload);
      (void)n;
      _exit(127);
    };
    // Node ignores SIGPIPE and may block signals: the target must start with
    // default dispositions and an empty mask, as if liveprobe were not there.
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Move the fds out of the way first so that dup2 onto 0..2 cannot clobber one still needed.
    int moved[3];
    for (int i = 0; i < 3; ++i) moved[i] = stdio[i] >= 0 ? fcntl(stdio[i], F_DUPFD_CLOEXEC, 10) : -1;
    for (int i = 0; i < 3; ++i) {
      if (moved[i] >= 0 && dup2(moved[i], i) < 0) fail(int(wire::ErrorSite::kFork));
    }
    if (cwd && chdir(cwd) != 0) fail(int(wire::ErrorSite::kChdir));
    if (no_aslr) {
      int cur = personality(0xffffffff);
      if (cur != -1) personality(unsigned(cur) | ADDR_NO_RANDOMIZE);
    }
    close(sync[1]);
    char b;
    ssize_t n;
    do n = read(sync[0], &b, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);  // the engine went away before releasing us
    // Installed last, after we are traced: from here every traced syscall
    // stops, and one without a tracer would fail with ENOSYS.
    if (filter) {
      int e = installSeccompFilter(*filter);
      if (e != 0) {
        errno = e;
        fail(int(wire::ErrorSite::kSeccomp));
      }
    }
    execve(path, argv.data(), envp.data());
    fail(int(wire::ErrorSite::kExec));
  }
  close(sync[0]);
  close(err[1]);
  out.pid = pid;
  out.release_fd = sync[1];
  out.error_fd = err[0];
  return out;
}

void releaseChild(HeldChild& c) {
  if (c.release_fd < 0) return;
  char go = 1;
  ssize_t n = write(c.release_fd, &go, 1);
  (void)n;
  close(c.release_fd);
  c.release_fd = -1;
}

}  // namespace liveprobe
