#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "model/chat.hpp"
#include "store/store.hpp"

namespace chatctl::engine {

struct NewChat {
  model::ChatStatus status{model::ChatStatus::request};  // request or active
  std::string requester_id;
  std::string requester_name;
  model::ChatterType requester_type{model::ChatterType::customer};
  model::ChatterType target_type{model::ChatterType::user};  // User or Customer
  std::string channel;  // channel name or id; empty: the default channel
  std::int64_t ticket_id{0};
};

struct ChatQuery {
  store::ChatFilter filter;
  bool outdated{false};        // only chats unchanged for ChatEngine::ChatDecayTime days
  bool mask_agent_name{false};  // show agents as ChatEngine::DefaultAgentName
};

struct ParticipantSpec {
  std::string chatter_id;
  std::string chatter_name;
  model::ChatterType chatter_type{model::ChatterType::user};
  model::ChatterActive active{model::ChatterActive::active};
  model::PermissionLevel permission{model::PermissionLevel::none};  // required for User
  bool invitation{false};
  model::Monitoring monitoring{model::Monitoring::none};
};

// Changes to a participant; unset members stay.
struct ParticipantChange {
  std::optional<model::ChatterActive> active{};
  std::optional<model::Monitoring> monitoring{};
  std::optional<model::PermissionLevel> permission{};
};

struct NewMessage {
  std::string chatter_id;
  model::ChatterType chatter_type{model::ChatterType::user};
  std::string text;  // 1..3800 characters (for RTM events see rtm_limits)
  bool system_generated{false};
  model::Audience audience{model::Audience::everyone};
  // RTM event fields: the type (text is required for messages only), a custom id, properties
  // and the type's own fields, each JSON object compact.
  model::EventType type{model::EventType::message};
  std::string custom_id{};
  std::string properties{"{}"};
  std::string payload{"{}"};
  // RTM's limit on message text (16 KB of UTF-8) instead of the engine's 3800 characters.
  bool rtm_limits{false};
  // Part of a chat's start (RTM initial events): the event log says so, and chatd's pushes carry
  // it inside incoming_chat rather than as incoming_event.
  bool initial{false};
  // The sender has seen the chat up to this event (RTM: sending an event marks the chat seen):
  // its seen_up_to moves to the event's time. Not news to anyone, so no ChatEventsSeen; the
  // ChatMessageAdd payload says `seen_by_sender`.
  bool seen_by_sender{false};
};

// Whose RTM properties: a chat's, one of its threads' (thread != 0) or one event's (message != 0).
struct PropertyTarget {
  model::ChatId chat{0};
  model::ThreadId thread{0};
  model::MessageId message{0};
};

struct MessageQuery {
  store::MessageFilter filter;
  bool mask_agent_name{false};
};

// The chat engine: chats, participants and permissions, messages and flags, with the rules of the
// OTRS engine (see shared/spec/otrs-chat-engine-api.txt and NOTES.md). Every mutation runs in one
// write transaction and appends the events the specification names in it: ChatAdd, ChatUpdate,
// ChatRequestUpdate, ChatChannelUpdate, ChatDelete, ChatParticipantAdd, ChatRequestUser,
// ChatRequestCustomer, ChatParticipantUpdate, ChatParticipantRemove, ChatMessageAdd, ChatFlagSet,
// ChatFlagDelete. A mutation that fails writes nothing and logs nothing.
//
// Errors: Error(not_found) for an unknown chat, channel or participant; Error(data) for values
// the rules refuse; Error(permission) when the acting agent lacks the permission level an
// operation needs. Not thread-safe.
class ChatEngine {
 public:
  ChatEngine(store::Store& store, const core::Settings& settings, const core::Clock& clock, std::string actor);

  // ChatAdd. A customer or public requester may only use a valid channel available to its kind.
  model::Chat add_chat(const NewChat& chat, bool dry_run);
  // ChatUpdate: request -> active -> closed (and re-opening). Bumps change_time.
  model::Chat set_status(model::ChatId id, model::ChatStatus status, bool dry_run);
  model::Chat chat(model::ChatId id);
  std::vector<model::Chat> chats(const ChatQuery& query);
  void delete_chat(model::ChatId id, bool dry_run);
  // ChatChannelUpdate.
  model::Chat move_chat(model::ChatId id, std::string_view channel, bool dry_run);
  // CustomerIDGet: the requester when it is a customer, else the first customer participant.
  std::optional<std::string> customer_id(model::ChatId id);
  // ChatPermissionLevelGet for an agent; none when it is not an active participant.
  model::PermissionLevel permission_level(model::ChatId id, std::string_view user);

  // ChatParticipantAdd: adds, or updates an existing participant (even one who left).
  model::Participant add_participant(model::ChatId id, const ParticipantSpec& spec, bool dry_run);
  // ChatParticipantUpdate.
  model::Participant update_participant(model::ChatId id, model::ChatterType type, std::string_view chatter_id,
                                        const ParticipantChange& change, bool dry_run);
  // AgentPermissionsUpdate: Participant <-> Observer only. With `by`, that agent must be the Owner.
  model::Participant set_agent_permission(model::ChatId id, std::string_view agent, model::PermissionLevel level,
                                          const std::optional<std::string>& by, bool dry_run);
  // ChatParticipantRemove: marks one participant as left (messages keep pointing at it).
  model::Participant remove_participant(model::ChatId id, model::ChatterType type, std::string_view chatter_id,
                                        bool dry_run);
  // ChatParticipantRemove(All): removes every participant and their messages for real.
  std::size_t remove_all_participants(model::ChatId id, bool dry_run);
  std::vector<model::Participant> participants(model::ChatId id);
  // ChatParticipantCheck: nullopt when no access (active only unless include_inactive).
  std::optional<model::Participant> check_participant(model::ChatId id, model::ChatterType type,
                                                      std::string_view chatter_id, bool include_inactive);
  // ContributorsCount: active agents that are not observers.
  std::size_t contributors(model::ChatId id);
  // CustomerPresent: a customer or public participant (active only when asked).
  bool customer_present(model::ChatId id, bool active_only);
  // ChatParticipantNumberGet: 1-based position of the agent among the chat's agents.
  std::size_t participant_number(model::ChatId id, std::string_view chatter_name);
  // IsChatAgentToAgent.
  bool agent_to_agent(model::ChatId id);

  // ChatMessageAdd. The sender must be an active participant; monitoring agents get their
  // NotificationChatUpdateSeen flag set to 0.
  model::Message add_message(model::ChatId id, const NewMessage& message, bool dry_run);
  model::Message message(model::MessageId id);
  std::vector<model::Message> messages(model::ChatId id, const MessageQuery& query);

  // RTM properties: `change` is {namespace: {name: value}} to set, or with `remove`
  // {namespace: [name, ...]} to delete. Logs ChatPropertiesUpdate / ChatPropertiesDelete with
  // {scope, thread_id, message_id, properties}, and `initial: true` for properties a chat starts
  // with (RTM start_chat and activate_chat, whose incoming_chat carries them). Error(data) for a
  // malformed change, Error(not_found) for an unknown thread or event of the chat.
  void update_properties(const PropertyTarget& target, const std::string& change, bool remove, bool initial = false);
  // Marks a participant's events seen up to `up_to` (never backwards); logs ChatEventsSeen.
  void mark_seen(model::ChatId id, model::ChatterType type, std::string_view chatter_id, core::Micros up_to);
  // Writes back an event's RTM fields (e.g. a rich message's postback users); logs ChatEventUpdate.
  void update_event(const model::Message& message);
  // What happens in a chat without changing it: ChatTyping, ChatSneakPeek, ChatPostback. Only
  // logged, so every chatd and follower learns of it. Error(internal) for any other type.
  void signal(model::ChatId id, std::string_view type, const std::string& payload);
  // An agent (an active participant) starts or stops typing: ChatTyping.
  void typing(model::ChatId id, std::string_view agent, bool is_typing);

  // ChatInvite: invites a registered agent into a chat on behalf of `inviter` (an active
  // participant), through `invitation_chat` (0: none). The invitee becomes an inactive
  // participant with a pending invitation; logs ChatInvite and ChatRequestUser.
  model::Invite invite(model::ChatId id, std::string_view invitee, std::string_view inviter,
                       model::ChatId invitation_chat, bool dry_run);
  // ChatInvitesGet: the agent's invites, to `chat` or through `invitation_chat` (not both).
  std::vector<model::Invite> invites(std::string_view user, std::optional<model::ChatId> chat,
                                     std::optional<model::ChatId> invitation_chat);
  // ChatDecline: only while the invited agent is still inactive. Writes an internal system
  // message, marks the participant as left and removes the invite.
  void decline(model::ChatId id, std::string_view user, const std::string& message, bool dry_run);
  // ChatInviteRemove: returns how many invites went.
  std::size_t remove_invite(std::string_view user, std::optional<model::ChatId> chat,
                            std::optional<model::ChatId> invitation_chat, bool dry_run);

  // ChatFlagSet / ChatFlagDelete / ChatFlagGet (at least one filter; Error(usage) otherwise).
  model::Flag set_flag(model::ChatId id, std::string_view key, std::string_view value, std::string_view user,
                       bool dry_run);
  std::size_t delete_flag(model::ChatId id, std::string_view key, const std::optional<std::string>& user,
                          bool dry_run);
  std::vector<model::Flag> flags(const store::FlagFilter& filter);

 private:
  model::Chat require_chat(model::ChatId id);
  model::ChannelId resolve_channel(std::string_view ref, model::ChatterType requester);
  void log(std::string_view type, const model::Chat& chat, const std::string& payload);
  void touch(model::Chat& chat);
  // Inserts a message into the chat's current thread (starting one if it has none).
  model::MessageId post(model::Message& m);
  std::string masked_name(model::ChatId chat, const std::string& name);

  store::Store& store_;
  const core::Settings& settings_;
  const core::Clock& clock_;
  std::string actor_;
};

}  // namespace chatctl::engine
