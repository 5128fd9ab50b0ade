// Replays the rtm_request fuzz target's seed corpus and every crash it found
// (tests/fuzz/corpus/rtm_request, tests/fuzz/regressions/rtm_request) through the target's own
// body, so a crash found once stays found in the ordinary build.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/rtm_request_target.hpp"
#include "rtm/service.hpp"

using namespace chatctl;

namespace {

std::vector<std::filesystem::path> files_in(const std::string& folder) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(CHATCTL_SOURCE_DIR) + "/" + folder)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("fuzz: every seed of the rtm_request corpus is a request the fixture accepts", "[fuzz]") {
  const auto files = files_in("tests/fuzz/corpus/rtm_request");
  REQUIRE(files.size() >= 28);  // at least one per action
  for (const auto& f : files) {
    INFO(f.filename().string());
    fuzz::RtmRequestResult r;
    REQUIRE_NOTHROW(r = fuzz::run_rtm_request(read_file(f)));
    CHECK(r.parsed);
    INFO(r.message);
    CHECK_FALSE(r.error.has_value());
  }
}

TEST_CASE("fuzz: saved rtm_request crashes run cleanly", "[fuzz]") {
  const auto files = files_in("tests/fuzz/regressions/rtm_request");
  REQUIRE_FALSE(files.empty());
  for (const auto& f : files) {
    INFO(f.filename().string());
    CHECK_NOTHROW(fuzz::run_rtm_request(read_file(f)));
  }
}

// The saved crash nests 10,000 deep, enough for the sanitizer build; without sanitizers the stack
// lasts longer, so this one nests as deep as a frame of chatd's size limit allows.
TEST_CASE("fuzz: a frame nested as deep as the frame limit allows is refused", "[fuzz]") {
  const std::string head = R"({"action":"send_event","payload":{"chat_id":"C000000001","event":{"type":"custom","content":)";
  const std::string tail = "}}}";
  const std::size_t depth = (rtm::Limits{}.max_frame_bytes - head.size() - tail.size()) / 2;
  const auto r = fuzz::run_rtm_request(head + std::string(depth, '[') + std::string(depth, ']') + tail);
  CHECK(r.parsed == false);
  CHECK(r.error == rtm::ErrorType::validation);
}
