#include "bus_client.h"

#include <cstring>

namespace grantd::vmtest::bus {

Reply call(sd_bus* bus, bool p2p, const char* path, const char* iface, const char* member,
	   const std::function<int(sd_bus_message*)>& fill, std::uint64_t timeout_us)
{
	Reply out;
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_call(bus, &raw, p2p ? nullptr : "org.grantd1", path, iface, member);
	if (r < 0) {
		out.error = std::string("client: new call: ") + std::strerror(-r);
		return out;
	}
	MessagePtr msg(raw);
	if (fill && (r = fill(msg.get())) < 0) {
		out.error = std::string("client: append: ") + std::strerror(-r);
		return out;
	}
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message* reply = nullptr;
	r = sd_bus_call(bus, msg.get(), timeout_us, &err, &reply);
	if (r < 0)
		out.error = std::string(err.name ? err.name : "client") + ": " + (err.message ? err.message : std::strerror(-r));
	out.message.reset(reply);
	sd_bus_error_free(&err);
	return out;
}

int append_strv(sd_bus_message* m, const std::vector<std::string>& v)
{
	std::vector<char*> p;
	for (const auto& s : v)
		p.push_back(const_cast<char*>(s.c_str()));
	p.push_back(nullptr);
	return sd_bus_message_append_strv(m, p.data());
}

std::string request_grant(sd_bus* bus, bool p2p, std::uint32_t session, const std::vector<std::string>& rights,
			  const std::vector<std::string>& resources, const std::string& ttl, const std::string& purpose)
{
	Reply r = call(bus, p2p, kRoot, kManager, "RequestGrant", [&](sd_bus_message* m) {
		int x = sd_bus_message_append(m, "u", session);
		if (x >= 0)
			x = append_strv(m, rights);
		if (x >= 0)
			x = append_strv(m, resources);
		if (x >= 0)
			x = sd_bus_message_append(m, "ss", ttl.c_str(), purpose.c_str());
		return x;
	});
	if (!r.ok())
		return "error " + r.error;
	const char *verdict = nullptr, *rule = nullptr, *reason = nullptr;
	std::uint64_t request = 0, grant = 0, expires = 0;
	if (sd_bus_message_read(r.message.get(), "stttss", &verdict, &request, &grant, &expires, &rule, &reason) < 0)
		return "error client: bad reply";
	std::string out = std::string(verdict) + " request=" + std::to_string(request);
	if (grant)
		out += " grant=" + std::to_string(grant);
	return out;
}

std::uint64_t field(const std::string& text, const std::string& key)
{
	auto at = text.find(key + "=");
	if (at == std::string::npos)
		return 0;
	return std::stoull(text.substr(at + key.size() + 1));
}

BusPtr connect_channel(const std::string& address)
{
	sd_bus* raw = nullptr;
	int r = sd_bus_new(&raw);
	if (r >= 0)
		r = sd_bus_set_address(raw, address.c_str());
	if (r >= 0)
		r = sd_bus_start(raw);
	if (r < 0) {
		if (raw)
			sd_bus_unref(raw);
		return nullptr;
	}
	return BusPtr(raw);
}

} // namespace grantd::vmtest::bus
