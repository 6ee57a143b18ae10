// The D-Bus errors grantd replies with (docs/dbus.md, "Errors"), and the
// value handlers return them as: a name from this list and a message that
// says what is wrong with which argument.
#pragma once

#include <string>

namespace grantd::bus {

inline constexpr const char kErrorAccessDenied[] = "org.grantd1.Error.AccessDenied";
inline constexpr const char kErrorInvalidArgument[] = "org.grantd1.Error.InvalidArgument";
inline constexpr const char kErrorNoSuchSession[] = "org.grantd1.Error.NoSuchSession";
inline constexpr const char kErrorNoSuchGrant[] = "org.grantd1.Error.NoSuchGrant";
inline constexpr const char kErrorNoSuchRequest[] = "org.grantd1.Error.NoSuchRequest";
inline constexpr const char kErrorNoSuchProfile[] = "org.grantd1.Error.NoSuchProfile";
inline constexpr const char kErrorRefused[] = "org.grantd1.Error.Refused";
inline constexpr const char kErrorNotPending[] = "org.grantd1.Error.NotPending";
inline constexpr const char kErrorDepthExceeded[] = "org.grantd1.Error.DepthExceeded";
inline constexpr const char kErrorFailed[] = "org.grantd1.Error.Failed";

struct BusError {
	std::string name; // one of the above
	std::string message;
};

} // namespace grantd::bus
