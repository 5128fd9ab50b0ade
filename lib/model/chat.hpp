#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "model/channel.hpp"

namespace chatctl::model {

enum class ChatStatus { request, active, closed };
// Who chats: agents are "User" in the engine's vocabulary.
enum class ChatterType { user, customer, public_user };
enum class PermissionLevel { none, owner, participant, observer };
// chatter_active: -1 left or declined, 0 invited or not yet accepted, 1 active.
enum class ChatterActive : int { left = -1, inactive = 0, active = 1 };
// What a monitoring agent is notified of: 0 nothing, 1 customer activity, 2 all activity.
enum class Monitoring : int { none = 0, customer = 1, all = 2 };
// Who sees a message: 0 everyone, 1 agents only (internal), 2 the customer only.
enum class Audience : int { everyone = 0, agents = 1, customer = 2 };

std::string_view to_string(ChatStatus s);
std::string_view to_string(ChatterType t);       // User, Customer, Public
std::string_view to_string(PermissionLevel p);   // "", Owner, Participant, Observer
std::string_view to_string(Audience a);          // everyone, agents, customer
std::optional<ChatStatus> parse_chat_status(std::string_view s);
std::optional<ChatterType> parse_chatter_type(std::string_view s);  // also user, customer, public
std::optional<PermissionLevel> parse_permission_level(std::string_view s);

using ChatId = std::int64_t;
using ParticipantId = std::int64_t;
using MessageId = std::int64_t;

struct Chat {
  ChatId id{0};
  ChatStatus status{ChatStatus::request};
  std::string requester_id;
  std::string requester_name;
  ChatterType requester_type{ChatterType::customer};
  ChatterType target_type{ChatterType::user};
  ChannelId channel_id{0};
  std::string channel_name{};  // filled by reads
  std::int64_t ticket_id{0};
  core::Micros create_time{0};
  core::Micros change_time{0};
  std::string properties{"{}"};  // RTM chat properties, a compact JSON object
};

using ThreadId = std::int64_t;

// An RTM thread: a chat's life from its start (or re-activation) to its close. Messages belong to
// the thread that was current when they were posted.
struct Thread {
  ThreadId id{0};
  ChatId chat_id{0};
  bool active{true};
  std::string properties{"{}"};  // a compact JSON object
  core::Micros create_time{0};
  std::optional<core::Micros> close_time{};
};

struct Participant {
  ParticipantId id{0};
  ChatId chat_id{0};
  std::string chatter_id;
  std::string chatter_name;
  ChatterType chatter_type{ChatterType::user};
  ChatterActive active{ChatterActive::inactive};
  bool invitation{false};
  Monitoring monitoring{Monitoring::none};
  PermissionLevel permission{PermissionLevel::none};
  core::Micros create_time{0};
  core::Micros seen_up_to{0};  // RTM events_seen_up_to: every event up to this time is seen
};

// The RTM event types a message (an event of a thread) can have.
enum class EventType { message, system_message, file, filled_form, rich_message, custom };
std::string_view to_string(EventType t);
std::optional<EventType> parse_event_type(std::string_view s);

struct Message {
  MessageId id{0};
  ChatId chat_id{0};
  ThreadId thread_id{0};
  ParticipantId participant_id{0};
  std::string chatter_id{};    // filled by reads
  std::string chatter_name{};  // filled by reads
  ChatterType chatter_type{ChatterType::user};
  std::string text;
  bool system_generated{false};
  Audience audience{Audience::everyone};
  core::Micros create_time{0};
  EventType type{EventType::message};
  std::string custom_id{};
  std::string properties{"{}"};  // a compact JSON object
  std::string payload{"{}"};     // the event type's own RTM fields (url, fields, elements, ...), a JSON object
};

struct Flag {
  ChatId chat_id{0};
  std::string key;
  std::string value;
  std::string user;  // whose flag it is (create_by)
  core::Micros create_time{0};
};

// An agent invited into a chat by another agent (agent-to-agent chats).
struct Invite {
  std::int64_t id{0};
  ChatId chat_id{0};
  std::string chatter_id;  // the invited agent
  std::string inviter_id;
  ChatId invitation_chat_id{0};  // the chat through which the invitation goes; 0 if none
  core::Micros create_time{0};
};

// RTM string ids, derived from the integer ids: "C" or "T" and the id in base 36 (upper case),
// padded to 9 digits ("C00000000Z" is chat 35); an event is "<thread id>_<message id>".
std::string rtm_chat_id(ChatId id);
std::string rtm_thread_id(ThreadId id);
std::string rtm_event_id(ThreadId thread, MessageId message);
// nullopt unless `s` is exactly what the functions above produce.
std::optional<ChatId> parse_rtm_chat_id(std::string_view s);
std::optional<ThreadId> parse_rtm_thread_id(std::string_view s);
// The message id of an event id, when its thread part is `thread`.
std::optional<MessageId> parse_rtm_event_id(std::string_view s, ThreadId thread);

inline constexpr std::size_t kMaxMessageLength = 3800;  // characters, not bytes

}  // namespace chatctl::model
