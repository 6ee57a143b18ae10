#include "bus.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace grantd::tools {

std::string Endpoint::describe() const
{
	if (channel)
		return "the session channel " + address;
	return address.empty() ? std::string("the system bus") : "the bus " + address;
}

Endpoint pick_endpoint(const std::string& address, bool prefer_channel)
{
	if (!address.empty())
		return {address, false};
	if (prefer_channel)
		if (const char* channel = std::getenv("GRANTD_BUS_ADDRESS"); channel && *channel)
			return {channel, true};
	if (const char* system = std::getenv("GRANTD_SYSTEM_BUS_ADDRESS"); system && *system)
		return {system, false};
	return {};
}

int exit_status_for(const std::string& name)
{
	static constexpr std::string_view unreachable[] = {
		SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_NO_REPLY,
		SD_BUS_ERROR_TIMEOUT,         SD_BUS_ERROR_DISCONNECTED,      SD_BUS_ERROR_NO_SERVER,
		SD_BUS_ERROR_UNKNOWN_METHOD,  SD_BUS_ERROR_UNKNOWN_OBJECT,    SD_BUS_ERROR_UNKNOWN_INTERFACE,
	};
	for (std::string_view u : unreachable)
		if (name == u)
			return kExitUnreachable;
	if (name == "org.grantd1.Error.AccessDenied" || name == SD_BUS_ERROR_ACCESS_DENIED ||
	    name == "org.freedesktop.DBus.Error.AuthFailed")
		return kExitDenied;
	if (name == "org.grantd1.Error.InvalidArgument" || name == SD_BUS_ERROR_INVALID_ARGS)
		return kExitUsage;
	return kExitFailed;
}

Result<Client> Client::connect(const Endpoint& endpoint)
{
	Client client;
	client.endpoint_ = endpoint;
	sd_bus* bus = nullptr;
	int r;
	if (endpoint.address.empty()) {
		r = sd_bus_open_system(&bus);
	} else {
		r = sd_bus_new(&bus);
		if (r >= 0)
			r = sd_bus_set_address(bus, endpoint.address.c_str());
		if (r >= 0)
			r = sd_bus_set_bus_client(bus, !endpoint.channel);
		if (r >= 0)
			r = sd_bus_start(bus);
	}
	client.bus_.reset(bus);
	if (r < 0)
		return Error{"cannot reach grantd on " + endpoint.describe() + ": " + std::strerror(-r),
			     kExitUnreachable};
	return client;
}

Result<UniqueMessage> Client::call(const char* path, const char* interface, const char* member,
				   const Appender& append, std::uint64_t timeout_usec)
{
	sd_bus_message* m = nullptr;
	int r = sd_bus_message_new_method_call(bus_.get(), &m, destination(), path, interface, member);
	UniqueMessage call(m);
	if (r >= 0 && append)
		r = append(m);
	if (r < 0)
		return Error{std::string("cannot build the ") + member + " call: " + std::strerror(-r), kExitFailed};
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message* reply = nullptr;
	r = sd_bus_call(bus_.get(), m, timeout_usec, &error, &reply);
	if (r >= 0) {
		sd_bus_error_free(&error);
		return UniqueMessage(reply);
	}
	std::string name = error.name ? error.name : "";
	std::string message = error.message ? error.message : std::strerror(-r);
	sd_bus_error_free(&error);
	int status = name.empty() ? kExitUnreachable : exit_status_for(name);
	if (status == kExitUnreachable)
		return Error{"cannot reach grantd on " + endpoint_.describe() + ": " + message +
				     (name.empty() ? "" : " (" + name + ")"),
			     status};
	std::string_view short_name = name;
	if (short_name.starts_with("org.grantd1.Error."))
		short_name.remove_prefix(std::strlen("org.grantd1.Error."));
	return Error{std::string(member) + ": " + message + " (" + std::string(short_name) + ")", status};
}

Error bad_reply(const char* member, int r)
{
	return Error{std::string("cannot read grantd's reply to ") + member + ": " + std::strerror(-r) +
			     " (does grantd speak the same API version?)",
		     kExitFailed};
}

} // namespace grantd::tools
