// Decoding D-Bus arguments: every error names the argument and the problem.
#include "bus/args.h"

#include <gtest/gtest.h>

namespace bus = grantd::bus;
namespace policy = grantd::policy;

namespace {

template <class T>
std::string error(const bus::Decoded<T>& d)
{
	return bus::failed(d) ? std::get<bus::BusError>(d).name + ": " + std::get<bus::BusError>(d).message : "";
}

TEST(Args, RightsByName)
{
	auto r = bus::rights_arg("rights", {"read", "write", "map-exec"});
	ASSERT_FALSE(bus::failed(r)) << error(r);
	EXPECT_EQ(std::get<0>(r), (policy::Rights{policy::Right::read, policy::Right::write, policy::Right::map_exec}));
	EXPECT_EQ(error(bus::rights_arg("rights", {"read", "fly"})),
		  "org.grantd1.Error.InvalidArgument: argument 'rights': \"fly\" is not a right (rights: read write "
		  "create delete exec map-exec connect send bind)");
	EXPECT_NE(error(bus::rights_arg("rights", {})).find("argument 'rights': names no right"), std::string::npos);
	EXPECT_NE(error(bus::rights_arg("rights", std::vector<std::string>(65, "read"))).find("at most 64"),
		  std::string::npos);
}

TEST(Args, Durations)
{
	auto d = bus::duration_arg("ttl", "1h30m");
	ASSERT_FALSE(bus::failed(d));
	EXPECT_EQ(std::get<0>(d), std::chrono::seconds(5400));
	EXPECT_EQ(error(bus::duration_arg("ttl", "5x")).rfind(
			  "org.grantd1.Error.InvalidArgument: argument 'ttl': \"5x\" is not a duration", 0),
		  0u);
	EXPECT_NE(error(bus::duration_arg("ttl", std::string(1 << 20, '9'))).find("is not a duration"), std::string::npos);
	EXPECT_TRUE(bus::failed(bus::duration_arg("ttl", "")));
	EXPECT_TRUE(bus::failed(bus::duration_arg("ttl", "0s")));
}

TEST(Args, Resources)
{
	auto r = bus::resources_arg("resources", {"/srv/data/", "tcp:192.0.2.10:443", "unix:/run/app.sock"});
	ASSERT_FALSE(bus::failed(r)) << error(r);
	ASSERT_EQ(std::get<0>(r).size(), 3u);
	EXPECT_EQ(std::get<0>(r)[0].path, "/srv/data");
	EXPECT_NE(error(bus::resources_arg("resources", {"relative/path"})).find("argument 'resources': \"relative/path\""),
		  std::string::npos);
	EXPECT_NE(error(bus::resources_arg("resources", {std::string(5000, '/')})).find("5000 bytes"), std::string::npos);
	EXPECT_NE(error(bus::resources_arg("resources", {})).find("names no resource"), std::string::npos);
}

TEST(Args, TextIsBoundedUtf8)
{
	EXPECT_FALSE(bus::failed(bus::text_arg("purpose", "fix the lexer", true)));
	EXPECT_NE(error(bus::text_arg("purpose", "", true)).find("argument 'purpose': must not be empty"), std::string::npos);
	EXPECT_FALSE(bus::failed(bus::text_arg("note", "", false)));
	EXPECT_NE(error(bus::text_arg("purpose", std::string(1 << 20, 'x'), true)).find("1048576 bytes long"),
		  std::string::npos);
	EXPECT_NE(error(bus::text_arg("purpose", "\xff\xfe", true)).find("not valid UTF-8"), std::string::npos);
}

TEST(Args, QuoteEscapesAndCuts)
{
	EXPECT_EQ(bus::quote("a\"b\n"), "\"a\\\"b\\x0a\"");
	std::string q = bus::quote(std::string(100, 'x'));
	EXPECT_NE(q.find("(100 bytes)"), std::string::npos);
	EXPECT_LT(q.size(), 100u);
}

TEST(Args, ModesAndPaths)
{
	EXPECT_EQ(std::get<0>(bus::mode_arg("mode", "permissive")), policy::Mode::permissive);
	EXPECT_EQ(error(bus::mode_arg("mode", "lax")),
		  "org.grantd1.Error.InvalidArgument: argument 'mode': \"lax\" is not a mode (enforce or permissive)");
	EXPECT_EQ(std::get<0>(bus::path_arg("workspace", "/home//alice/repo/")), "/home/alice/repo");
	EXPECT_NE(error(bus::path_arg("workspace", "repo")).find("argument 'workspace'"), std::string::npos);
	EXPECT_TRUE(bus::failed(bus::path_arg("workspace", "/a/../b")));
}

TEST(Args, OptionsAreCheckedByKeyAndType)
{
	std::map<std::string, char> allowed{{"mode", 's'}, {"user", 'u'}};
	EXPECT_FALSE(bus::failed(bus::check_options("options", {{"mode", std::string("enforce")}}, allowed)));
	EXPECT_EQ(error(bus::check_options("options", {{"mood", std::string("x")}}, allowed)),
		  "org.grantd1.Error.InvalidArgument: argument 'options': unknown option \"mood\" (options: mode, user)");
	EXPECT_EQ(error(bus::check_options("options", {{"user", std::string("alice")}}, allowed)),
		  "org.grantd1.Error.InvalidArgument: argument 'options': option \"user\" must have type 'u', not 's'");
}

} // namespace
