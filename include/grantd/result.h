// Errors as values, with context, for library code that must not log.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace grantd {

// What kind of failure, for edges that map errors to names (the D-Bus
// service's org.grantd1.Error.*); most errors are simply `failed`.
enum class ErrorKind : std::uint8_t {
	failed,
	invalid_argument,
	no_such_session,
	no_such_grant,
	no_such_request,
	no_such_profile,
	not_pending,
	refused,        // a policy refusal (delegation outside every parent grant, ...)
	depth_exceeded, // a derived session past the profile's max_delegation_depth
};

struct Error {
	std::string message; // names the problem and where: "open /x: Permission denied"
	int code = 0;        // errno when the cause was a system call, else 0
	ErrorKind kind = ErrorKind::failed;

	static Error from_errno(std::string what, int err = errno)
	{
		return Error{std::move(what) + ": " + std::strerror(err), err};
	}
	// Prefixes more context: "loading programs: " + message.
	Error context(const std::string& where) const { return Error{where + ": " + message, code, kind}; }
	// Appends supporting detail (e.g. a log excerpt) on following lines.
	Error detail(const std::string& text) const
	{
		return text.empty() ? *this : Error{message + "\n" + text, code, kind};
	}
};

template <class T>
class [[nodiscard]] Result {
public:
	Result(T value) : v_(std::move(value)) {}
	Result(Error error) : v_(std::move(error)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	T& value() & { return std::get<0>(v_); }
	T&& value() && { return std::get<0>(std::move(v_)); }
	const T& value() const& { return std::get<0>(v_); }
	T* operator->() { return &value(); }
	T& operator*() & { return value(); }
	const Error& error() const { return std::get<1>(v_); }

private:
	std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
	Result() = default;
	Result(Error error) : error_(std::move(error)), failed_(true) {}

	bool ok() const { return !failed_; }
	explicit operator bool() const { return ok(); }
	const Error& error() const { return error_; }

private:
	Error error_;
	bool failed_ = false;
};

} // namespace grantd
