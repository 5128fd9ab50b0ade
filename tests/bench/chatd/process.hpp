#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

// The servers bench_chatd measures run as child processes, so that each has its own CPU time and
// resident memory to read from /proc.
namespace chatctl::bench {

class Child {
 public:
  // Starts `argv` with stdin from /dev/null and stdout and stderr appended to `log_path`, then
  // waits at most `timeout` for `port_file` to hold the port it listens on. With a `config_home`,
  // the child gets no CHATCTL_* variables and that XDG_CONFIG_HOME, so that no configuration of
  // the user's changes what chatctl does. Throws std::runtime_error, with the end of the log, when
  // the child exits or the time runs out first (the child is then killed).
  static std::unique_ptr<Child> start(std::string name, const std::vector<std::string>& argv, std::string log_path,
                                      const std::string& port_file, const std::string& config_home,
                                      std::chrono::milliseconds timeout);
  // Stops the child when it still runs (see stop()).
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  unsigned short port() const { return port_; }

  // False once the child has exited (it is then reaped and status() says how).
  bool running();
  // "running", "exit N" or "killed by signal N (name)".
  std::string status() const;
  // SIGTERM, then SIGKILL when it has not exited after `grace`; returns status().
  std::string stop(std::chrono::milliseconds grace);

  // From /proc/<pid>: the resident set (VmRSS, KiB) and the CPU time used so far (user + system,
  // seconds); 0 when unreadable.
  long vm_rss_kib() const;
  double cpu_seconds() const;
  // The same per thread, summed over the threads of one name (/proc/<pid>/task/*/comm).
  std::map<std::string, double> thread_cpu_seconds() const;
  // The last `lines` lines of its log (indented, joined by line breaks), and how many it has.
  std::string log_tail(std::size_t lines) const;
  std::size_t log_lines() const;

 private:
  Child() = default;

  std::string name_;
  std::string log_path_;
  pid_t pid_{-1};
  unsigned short port_{0};
  int wait_status_{0};
  bool exited_{false};
};

// The CPU time this process has used (user + system, seconds).
double own_cpu_seconds();

// How long the threads of process `pid` were runnable but waited for a CPU (the run queue: the
// second field of /proc/<pid>/task/*/schedstat), in seconds, summed over the threads of one name.
// Empty where the kernel keeps no such count.
std::map<std::string, double> thread_wait_seconds(pid_t pid);

// GET http://127.0.0.1:PORT/metrics (chatd's Prometheus exposition) as name -> value; labelled
// series keep their labels in the name. Empty when it cannot be read within 5 s.
std::map<std::string, double> fetch_metrics(unsigned short port);

}  // namespace chatctl::bench
