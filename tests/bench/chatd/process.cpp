#include "chatd/process.hpp"

#include "common.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace chatctl::bench {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::unique_ptr<Child> Child::start(std::string name, const std::vector<std::string>& argv, std::string log_path,
                                    const std::string& port_file, const std::string& config_home,
                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> argv_strings = argv;
  std::vector<char*> args = bench::c_strings(argv_strings);
  std::vector<std::string> env_strings = bench::child_environment(config_home);
  std::vector<char*> env = bench::c_strings(env_strings);
  ::unlink(port_file.c_str());

  std::unique_ptr<Child> child(new Child());
  child->name_ = std::move(name);
  child->log_path_ = std::move(log_path);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int log = open(child->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || log < 0) _exit(126);
    dup2(in, 0);
    dup2(log, 1);
    dup2(log, 2);
    close(in);
    close(log);
    execvpe(args[0], args.data(), env.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  child->pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string text = read_text(port_file);
    if (!text.empty() && text.back() == '\n') {
      child->port_ = static_cast<unsigned short>(std::stoul(text));
      return child;
    }
    if (!child->running()) {
      throw std::runtime_error(child->name_ + " " + child->status() + " before listening:\n" + child->log_tail(15));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      child->stop(std::chrono::milliseconds(0));
      throw std::runtime_error(child->name_ + " did not write its port file in time:\n" + child->log_tail(15));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Child::~Child() {
  if (!exited_) stop(std::chrono::seconds(10));
}

bool Child::running() {
  if (exited_) return false;
  int how = 0;
  if (waitpid(pid_, &how, WNOHANG) == pid_) {
    exited_ = true;
    wait_status_ = how;
  }
  return !exited_;
}

std::string Child::status() const {
  if (!exited_) return "running";
  if (WIFEXITED(wait_status_)) return "exit " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) {
    const int sig = WTERMSIG(wait_status_);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended (status " + std::to_string(wait_status_) + ")";
}

std::string Child::stop(std::chrono::milliseconds grace) {
  if (!running()) return status();
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (running()) {
    kill(pid_, SIGKILL);
    int how = 0;
    while (waitpid(pid_, &how, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
    wait_status_ = how;
    return status() + " (SIGKILL after " + std::to_string(grace.count()) + " ms)";
  }
  return status();
}

long Child::vm_rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::atol(line.c_str() + 6);
  }
  return 0;
}

namespace {

// Fields 14 and 15 of a /proc stat file (user and system time), counted after the command name,
// which may hold spaces; in seconds.
double stat_cpu_seconds(const std::string& path) {
  const std::string text = read_text(path);
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// `read` of each thread of `pid` (its /proc/<pid>/task/<tid> folder), summed by thread name.
template <class Read>
std::map<std::string, double> sum_by_thread_name(pid_t pid, Read read) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string name = read_text((task.path() / "comm").string());
    while (!name.empty() && name.back() == '\n') name.pop_back();
    out[name] += read(task.path());
  }
  return out;
}

}  // namespace

double Child::cpu_seconds() const { return stat_cpu_seconds("/proc/" + std::to_string(pid_) + "/stat"); }

std::map<std::string, double> Child::thread_cpu_seconds() const {
  return sum_by_thread_name(pid_, [](const std::filesystem::path& task) {
    return stat_cpu_seconds((task / "stat").string());
  });
}

std::string Child::log_tail(std::size_t lines) const {
  std::ifstream in(log_path_);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += (out.empty() ? "  " : "\n  ") + l;
  return out;
}

std::size_t Child::log_lines() const {
  std::ifstream in(log_path_);
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

std::map<std::string, double> thread_wait_seconds(pid_t pid) {
  return sum_by_thread_name(pid, [](const std::filesystem::path& task) {
    std::istringstream in(read_text((task / "schedstat").string()));
    unsigned long long ran_ns = 0;
    unsigned long long waited_ns = 0;
    return in >> ran_ns >> waited_ns ? static_cast<double>(waited_ns) / 1e9 : 0.0;
  });
}

double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

std::map<std::string, double> fetch_metrics(unsigned short port) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  std::map<std::string, double> out;
  try {
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    socket.connect({asio::ip::make_address_v4("127.0.0.1"), port});
    // Blocking I/O with a receive timeout: enough for one request to a local server.
    const timeval tv{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::connection, "close");
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    std::istringstream in(res.body());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.rfind(' ');
      if (space == std::string::npos) continue;
      try {
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
      } catch (const std::exception&) {
      }
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

}  // namespace chatctl::bench
