// What the authority needs from the kernel side: session cgroups, session
// registration and rules. MapsEnforcer is the real one (MapsWriter and
// cgroupfs); tests substitute their own to run the authority without BPF.
#pragma once

#include "maps_writer.h"

#include <grantd/result.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace grantd::authority {

class Enforcer {
public:
	virtual ~Enforcer() = default;
	// Creates the cgroup directory; returns its cgroup id.
	virtual Result<std::uint64_t> create_cgroup(const std::string& path) = 0;
	// Removes an empty cgroup; EBUSY while tasks remain.
	virtual Result<void> remove_cgroup(const std::string& path) = 0;
	virtual Result<void> add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags) = 0;
	virtual Result<void> set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags) = 0;
	// Drops every rule the session has, whoever wrote them (a scan of the
	// rule maps: restore's cleanup), and unregisters it.
	virtual Result<void> remove_session(std::uint64_t cgroup_id) = 0;
	// Drops exactly `rules`, every rule the caller wrote for the session
	// (no scan: closing a session at scale), and unregisters it.
	virtual Result<void> remove_session(std::uint64_t cgroup_id, const SessionRules& rules) = 0;
	virtual Result<void> put_file_rule(std::uint32_t session_id, const ObjectId& object,
					   const grantd_file_rule& rule) = 0;
	virtual Result<void> remove_file_rule(std::uint32_t session_id, const ObjectId& object) = 0;
	// By the kernel's key (list_file_rules), for a rule whose cgroup has
	// no session in the state.
	virtual Result<void> remove_file_rule(const grantd_file_key& key) = 0;
	virtual Result<void> put_net_rule(std::uint32_t session_id, const Endpoint& endpoint,
					  const grantd_net_rule& rule) = 0;
	virtual Result<void> remove_net_rule(std::uint32_t session_id, const Endpoint& endpoint) = 0;

	// What the kernel holds, for restore() to make it match the state.
	virtual Result<std::vector<std::pair<std::uint64_t, grantd_session>>> list_sessions() const = 0;
	virtual Result<std::vector<grantd_file_key>> list_file_rules() const = 0;
	virtual Result<std::vector<std::pair<std::uint32_t, Endpoint>>> list_net_rules() const = 0;
};

class MapsEnforcer final : public Enforcer {
public:
	explicit MapsEnforcer(MapsWriter& maps) : maps_(maps) {}
	Result<std::uint64_t> create_cgroup(const std::string& path) override;
	Result<void> remove_cgroup(const std::string& path) override;
	Result<void> add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags) override;
	Result<void> set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags) override;
	Result<void> remove_session(std::uint64_t cgroup_id) override;
	Result<void> remove_session(std::uint64_t cgroup_id, const SessionRules& rules) override;
	Result<void> put_file_rule(std::uint32_t session_id, const ObjectId& object,
				   const grantd_file_rule& rule) override;
	Result<void> remove_file_rule(std::uint32_t session_id, const ObjectId& object) override;
	Result<void> remove_file_rule(const grantd_file_key& key) override;
	Result<void> put_net_rule(std::uint32_t session_id, const Endpoint& endpoint,
				  const grantd_net_rule& rule) override;
	Result<void> remove_net_rule(std::uint32_t session_id, const Endpoint& endpoint) override;
	Result<std::vector<std::pair<std::uint64_t, grantd_session>>> list_sessions() const override;
	Result<std::vector<grantd_file_key>> list_file_rules() const override;
	Result<std::vector<std::pair<std::uint32_t, Endpoint>>> list_net_rules() const override;

private:
	MapsWriter& maps_;
};

} // namespace grantd::authority
