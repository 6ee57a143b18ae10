#include "authority/enforcer.h"

#include "cgroup.h"

namespace grantd::authority {

Result<std::uint64_t> MapsEnforcer::create_cgroup(const std::string& path)
{
	if (auto made = make_cgroup(path); !made)
		return made.error();
	return cgroup_id(path);
}

Result<void> MapsEnforcer::remove_cgroup(const std::string& path) { return grantd::remove_cgroup(path); }

Result<void> MapsEnforcer::add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags)
{
	return maps_.add_session(cgroup_id, session_id, flags);
}

Result<void> MapsEnforcer::set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags)
{
	return maps_.set_session_flags(cgroup_id, flags);
}

Result<std::vector<std::pair<std::uint64_t, grantd_session>>> MapsEnforcer::list_sessions() const
{
	return maps_.sessions();
}

Result<std::vector<grantd_file_key>> MapsEnforcer::list_file_rules() const { return maps_.file_rules(); }

Result<std::vector<std::pair<std::uint32_t, Endpoint>>> MapsEnforcer::list_net_rules() const
{
	return maps_.net_rules();
}

Result<void> MapsEnforcer::remove_session(std::uint64_t cgroup_id) { return maps_.remove_session(cgroup_id); }

Result<void> MapsEnforcer::remove_session(std::uint64_t cgroup_id, const SessionRules& rules)
{
	return maps_.remove_session(cgroup_id, rules);
}

Result<void> MapsEnforcer::put_file_rule(std::uint32_t session_id, const ObjectId& object,
					 const grantd_file_rule& rule)
{
	return maps_.put_file_rule(session_id, object, rule);
}

Result<void> MapsEnforcer::remove_file_rule(std::uint32_t session_id, const ObjectId& object)
{
	return maps_.remove_file_rule(session_id, object);
}

Result<void> MapsEnforcer::remove_file_rule(const grantd_file_key& key) { return maps_.remove_file_rule(key); }

Result<void> MapsEnforcer::put_net_rule(std::uint32_t session_id, const Endpoint& endpoint,
					const grantd_net_rule& rule)
{
	return maps_.put_net_rule(session_id, endpoint, rule);
}

Result<void> MapsEnforcer::remove_net_rule(std::uint32_t session_id, const Endpoint& endpoint)
{
	return maps_.remove_net_rule(session_id, endpoint);
}

} // namespace grantd::authority
