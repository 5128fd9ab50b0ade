// libFuzzer target: RTM request frames through the decoder and the actions (rtm_request_target.hpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/rtm_request_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chatctl::fuzz::run_rtm_request({reinterpret_cast<const char*>(data), size});
  return 0;
}
