// The only userspace code that knows the map layouts: writes the governed
// root, sessions and file rules the kernel programs enforce, and reads back
// counters. Everything above it (authority, bus, tests) goes through here.
#pragma once

#include "unique_fd.h"

#include <grantd/abi.h>
#include <grantd/result.h>

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace grantd {

class Loader;

// An object as the kernel's file check names it (see grantd_file_key).
struct ObjectId {
	std::uint32_t dev = 0;
	std::uint64_t ino = 0;
	bool operator==(const ObjectId&) const = default;
};

// Identity of the object an fd refers to (O_PATH fds are fine): the inode the
// kernel walks, which stat() reports on some file systems only (see
// stat_ino_is_kernel_ino). There it comes from one statx (STATX_INO and
// STATX_MNT_ID); elsewhere from /proc/self/fdinfo; the device from
// /proc/self/mountinfo (read again only after the mount table changes).
Result<ObjectId> object_id(int fd);
// Same, with a statx of fd the caller already made (any mask: what it lacks
// is read from the fdinfo).
Result<ObjectId> object_id(int fd, const struct statx& st);
// Same, from the fdinfo alone.
Result<ObjectId> object_id_from_fdinfo(int fd);
// True for the file system types (mountinfo's names) whose stat reports
// inode->i_ino as st_ino for every inode.
bool stat_ino_is_kernel_ino(std::string_view fstype);
// Same, for a path; the final component is not followed if it is a symlink.
Result<ObjectId> object_id(const std::string& path);

// The clock of the kernel's deadlines (bpf_ktime_get_boot_ns).
std::uint64_t boot_time_ns();

// A rule value with the given rights live until deadline_ns.
grantd_file_rule make_file_rule(std::uint32_t rights_mask, std::uint64_t deadline_ns);

// An inet endpoint prefix as the kernel's net rules name it: family 4 or 6,
// an IPPROTO_* protocol, a port (0: any) and an address prefix.
struct Endpoint {
	std::uint8_t family = 4;
	std::uint8_t protocol = 6;
	std::uint16_t port = 0;
	std::uint8_t addr[16] = {};
	std::uint8_t prefix_len = 32;
};

// Parses "tcp:127.0.0.1/32:8080", "udp:[::1]/128:any" (the daemon library's
// own notation, used by tests and tools; profiles have theirs).
Result<Endpoint> parse_endpoint(const std::string& text);

// A net rule value with the given inet rights (GRANTD_RIGHT_CONNECT, SEND,
// BIND bits) live until deadline_ns.
grantd_net_rule make_net_rule(std::uint32_t rights_mask, std::uint64_t deadline_ns);

// Every rule a session has, as whoever wrote them knows them: lets removing
// the session delete exactly these instead of scanning the rule maps.
struct SessionRules {
	std::vector<ObjectId> files;
	std::vector<Endpoint> nets;
};

class MapsWriter {
public:
	// Uses the maps of a loaded (or adopted) program set.
	static Result<MapsWriter> from_loader(const Loader& loader);
	// Opens the maps a running or previous grantd pinned.
	static Result<MapsWriter> open_pinned(const std::string& pin_dir);

	// Where the governed subtree is: every task in the cgroup root_id (at
	// root_level) or below it is governed; root_dir_fd is an fd of that
	// cgroup's directory (the programs test membership through it); flags
	// are GRANTD_CONFIG_*. event_rate: decisions reported per session per
	// second (0: no limit).
	Result<void> set_root(int root_dir_fd, std::uint64_t root_id, std::uint32_t root_level,
			      std::uint32_t flags = 0, std::uint32_t event_rate = 0);
	Result<grantd_config> config() const;

	// File rules are keyed by the session's cgroup (grantd_file_key): the
	// kernel honours them without looking the session up. So a session is
	// registered before any rule of it is written, and every one of its file
	// rules is removed before it is unregistered; its net rules, which the
	// kernel looks up by session, go after (unregistered, they are inert).
	Result<void> add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags = 0);
	Result<void> set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags);
	// Removes the session and every rule it has, found by scanning the rule
	// maps (O(every rule of every session)): for a caller that cannot know
	// what is there, such as restore cleaning up after another grantd.
	Result<void> remove_session(std::uint64_t cgroup_id);
	// Removes the session and exactly `rules` (O(its own rules)): for the
	// caller that wrote every rule of the session and knows them.
	Result<void> remove_session(std::uint64_t cgroup_id, const SessionRules& rules);
	Result<std::optional<grantd_session>> session(std::uint64_t cgroup_id) const;
	// Every registered session, by cgroup id.
	Result<std::vector<std::pair<std::uint64_t, grantd_session>>> sessions() const;

	// Replaces the rule of a session on an object; the session must be
	// registered (add_session).
	Result<void> put_file_rule(std::uint32_t session_id, const ObjectId& object, const grantd_file_rule& rule);
	// Removing a rule that does not exist is not an error (nor is naming a
	// session that is not registered: it has no rules).
	Result<void> remove_file_rule(std::uint32_t session_id, const ObjectId& object);
	// By the map's own key, for rules whose cgroup has no session any more.
	Result<void> remove_file_rule(const grantd_file_key& key);
	Result<std::optional<grantd_file_rule>> file_rule(std::uint32_t session_id, const ObjectId& object) const;
	// Every file rule's key (its session's cgroup, device and inode).
	Result<std::vector<grantd_file_key>> file_rules() const;
	// How many file rules (of every session) share the object's file_hints
	// slot (see GRANTD_FILE_HINT_BITS in abi.h).
	Result<std::uint32_t> file_hint(const ObjectId& object) const;

	// Replaces the inet rule of a session on an endpoint prefix. The caller
	// folds broader prefixes' deadlines into narrower ones (see abi.h).
	Result<void> put_net_rule(std::uint32_t session_id, const Endpoint& endpoint, const grantd_net_rule& rule);
	Result<void> remove_net_rule(std::uint32_t session_id, const Endpoint& endpoint);
	// Every inet rule's place: session and endpoint prefix.
	Result<std::vector<std::pair<std::uint32_t, Endpoint>>> net_rules() const;

	// Removes every rule none of whose rights is live at now_ns; returns them.
	Result<std::vector<grantd_file_key>> sweep_expired(std::uint64_t now_ns);

	// Per-hook counters summed over CPUs.
	Result<grantd_counter> counters(grantd_hook hook) const;
	// Every hook's, indexed by grantd_hook: one syscall (a batch lookup)
	// where the kernel has it, one per hook where it has not.
	Result<std::vector<grantd_counter>> all_counters() const;

	int events_fd() const { return events_.get(); }

private:
	MapsWriter() = default;
	// Reads the sessions map into cgroups_.
	Result<void> index_sessions();
	// The cgroup of a registered session; nullopt if it is not registered.
	std::optional<std::uint64_t> cgroup_of(std::uint32_t session_id) const;
	Result<void> remove_file_rules_of(std::uint64_t cgroup_id);
	Result<void> remove_net_rules_of(std::uint32_t session_id);
	Result<void> adjust_hint(const grantd_file_key& key, int delta);
	Result<void> delete_file_key(const grantd_file_key& key);

	UniqueFd settings_, governed_root_, sessions_, file_rules_, file_hints_, net_rules_, rates_, counters_, events_;
	// Session id -> cgroup id of every registered session (the sessions
	// map, inverted), kept by add_session and the removals. grantd is the
	// maps' only writer.
	std::unordered_map<std::uint32_t, std::uint64_t> cgroups_;
};

} // namespace grantd
