#include <grantd/policy.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace grantd::policy;
using Messages = std::vector<std::string>;

namespace {

// Lines 1-4 of every case; rules start on line 5.
constexpr std::string_view head = "name = \"p\"\n"
				  "description = \"test\"\n"
				  "[session]\n"
				  "max_duration = \"8h\"\n";

class ProfileCheck : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string tmpl = (std::filesystem::temp_directory_path() / "grantd-policy-XXXXXX").string();
		ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	// Writes NAME.toml, runs check_file, and returns its messages with the
	// temporary directory cut off, so they read "p.toml:LINE:COL: ...".
	Messages check(std::string_view text, const std::string& name = "p")
	{
		std::string path = dir_ + "/" + name + ".toml";
		std::ofstream(path) << text;
		Messages out;
		for (const grantd::Error& e : check_file(path)) {
			EXPECT_TRUE(e.message.starts_with(dir_ + "/")) << e.message;
			out.push_back(e.message.substr(dir_.size() + 1));
		}
		return out;
	}

	// A grantable rule "r" on /w with the given max_ttl line.
	Messages check_ttl(std::string_view ttl_line)
	{
		return check(std::string(head) + "[[grantable]]\n"
						 "name = \"r\"\n"
						 "rights = [\"write\"]\n"
						 "paths = [\"/w\"]\n"
						 "approval = \"auto\"\n" +
			     std::string(ttl_line) + "\n");
	}

	// A baseline rule "r" with the given rights and resources lines.
	Messages check_rule(std::string_view rights_line, std::string_view resources_line)
	{
		return check(std::string(head) + "[[baseline]]\n"
						 "name = \"r\"\n" +
			     std::string(rights_line) + "\n" + std::string(resources_line) + "\n");
	}

	std::string dir_;
};

} // namespace

TEST_F(ProfileCheck, AcceptsAMinimalProfile)
{
	EXPECT_EQ(check(head), Messages{});
}

TEST_F(ProfileCheck, ReportsTomlSyntaxErrorsWithPosition)
{
	EXPECT_EQ(check("name = \"p\"\ndescription = \n"),
		  Messages{"p.toml:2:15: Error while parsing key-value pair: expected value, saw '\\n'"});
	EXPECT_EQ(check("name = \"p\"\nname = \"q\"\n"),
		  Messages{"p.toml:2:8: Error while parsing key-value pair: cannot redefine existing string 'name'"});
}

TEST_F(ProfileCheck, ReportsMissingFileWithErrno)
{
	auto errors = check_file(dir_ + "/absent.toml");
	ASSERT_EQ(errors.size(), 1u);
	EXPECT_EQ(errors[0].message, "open " + dir_ + "/absent.toml: No such file or directory");
	EXPECT_EQ(errors[0].code, ENOENT);
}

TEST_F(ProfileCheck, UnknownKeysAreErrorsWithASuggestion)
{
	EXPECT_EQ(check("name = \"p\"\ndescription = \"test\"\nverison = 1\n[session]\nmax_duration = \"8h\"\n"),
		  Messages{"p.toml:3:1: unknown key \"verison\" at the top level"});
	EXPECT_EQ(check(std::string(head) + "mdoe = \"enforce\"\n"),
		  Messages{"p.toml:5:1: unknown key \"mdoe\" in [session]; did you mean mode?"});
	EXPECT_EQ(check(std::string(head) + "[[grantable]]\n"
					    "name = \"edit\"\n"
					    "rights = [\"write\"]\n"
					    "paths = [\"/w\"]\n"
					    "max_tll = \"5m\"\n"
					    "approval = \"auto\"\n"),
		  (Messages{"p.toml:5:1: missing key max_ttl in [[grantable]] \"edit\"",
			    "p.toml:9:1: unknown key \"max_tll\" in [[grantable]] \"edit\"; did you mean max_ttl?"}));
	// Keys of one section are unknown in another.
	EXPECT_EQ(check_rule("rights = [\"read\"]\nmax_ttl = \"5m\"", "paths = [\"/usr\"]"),
		  Messages{"p.toml:8:1: unknown key \"max_ttl\" in [[baseline]] \"r\""});
}

TEST_F(ProfileCheck, MissingKeysPointAtTheirTable)
{
	EXPECT_EQ(check("description = \"test\"\n[session]\nmax_duration = \"8h\"\n"),
		  Messages{"p.toml:1:1: missing key name at the top level"});
	EXPECT_EQ(check("name = \"p\"\ndescription = \"test\"\n"), Messages{"p.toml:1:1: missing table [session]"});
	EXPECT_EQ(check("name = \"p\"\ndescription = \"test\"\n[session]\nmode = \"enforce\"\n"),
		  Messages{"p.toml:3:1: missing key max_duration in [session]"});
	EXPECT_EQ(check(std::string(head) + "[[grantable]]\n"
					    "rights = [\"write\"]\n"
					    "paths = [\"/w\"]\n"
					    "max_ttl = \"5m\"\n"),
		  (Messages{"p.toml:5:1: missing key name in [[grantable]]",
			    "p.toml:5:1: missing key approval in [[grantable]]"}));
	EXPECT_EQ(check(std::string(head) + "[[never]]\nname = \"n\"\n"),
		  Messages{"p.toml:5:1: no paths or endpoints in [[never]] \"n\""});
}

TEST_F(ProfileCheck, RejectsBadDurations)
{
	EXPECT_EQ(check_ttl("max_ttl = \"0s\""),
		  Messages{"p.toml:10:11: max_ttl: duration \"0s\" is zero; it must be positive"});
	EXPECT_EQ(check_ttl("max_ttl = \"-5m\""), Messages{"p.toml:10:11: max_ttl: duration \"-5m\" is negative"});
	EXPECT_EQ(check_ttl("max_ttl = \"5x\""),
		  Messages{"p.toml:10:11: max_ttl: duration \"5x\" has unknown unit \"x\" (units are d, h, m, s)"});
	EXPECT_EQ(check_ttl("max_ttl = \"30m1h\""),
		  Messages{"p.toml:10:11: max_ttl: duration \"30m1h\" must give units largest first, each at "
			   "most once (d, h, m, s)"});
	EXPECT_EQ(check_ttl("max_ttl = \"99999999999999s\""),
		  Messages{"p.toml:10:11: max_ttl: duration \"99999999999999s\" is too long (at most 106751d)"});
	EXPECT_EQ(check_ttl("max_ttl = 30"),
		  Messages{"p.toml:10:11: max_ttl must be a string such as \"30m\", not an integer"});
	EXPECT_EQ(check_ttl("max_ttl = \"9h\""),
		  Messages{"p.toml:10:11: max_ttl 9h is longer than the session's max_duration 8h"});
	EXPECT_EQ(check("name = \"p\"\ndescription = \"test\"\n[session]\nmax_duration = \"forever\"\n"),
		  Messages{"p.toml:4:16: max_duration: duration \"forever\" has unexpected \"f\" (write e.g. \"90s\", "
			   "\"5m\", \"1h30m\", \"2d\")"});
}

TEST_F(ProfileCheck, RejectsUnknownAndRepeatedRights)
{
	EXPECT_EQ(check_rule("rights = [\"read\", \"wrte\", 7]", "paths = [\"/w\"]"),
		  (Messages{"p.toml:7:19: unknown right \"wrte\"; did you mean \"write\"? (rights: read, write, create, "
			    "delete, exec, map-exec, connect, send, bind)",
			    "p.toml:7:27: rights must be strings, not an integer"}));
	EXPECT_EQ(check_rule("rights = [\"read\", \"read\"]", "paths = [\"/w\"]"),
		  Messages{"p.toml:7:19: right \"read\" is listed twice"});
	EXPECT_EQ(check_rule("rights = []", "paths = [\"/w\"]"), Messages{"p.toml:7:10: rights must not be empty"});
	EXPECT_EQ(check_rule("rights = \"read\"", "paths = [\"/w\"]"),
		  Messages{"p.toml:7:10: rights must be an array of strings such as [\"read\", \"write\"], not a "
			   "string"});
}

TEST_F(ProfileCheck, RejectsBadPaths)
{
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"src\"]"),
		  Messages{"p.toml:8:10: path \"src\" is relative; start it with \"/\", \"{workspace}\" or \"{home}\""});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"{workspace}/../etc\"]"),
		  Messages{"p.toml:8:10: path \"{workspace}/../etc\" has a \"..\" component"});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"{workdir}/src\"]"),
		  Messages{"p.toml:8:10: path \"{workdir}/src\" has unknown placeholder {workdir} (placeholders: "
			   "{workspace}, {home}, {user})"});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"/srv/{group}\"]"),
		  Messages{"p.toml:8:10: path \"/srv/{group}\" has unknown placeholder {group} (placeholders: "
			   "{workspace}, {home}, {user})"});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"/srv/{home}\"]"),
		  Messages{"p.toml:8:10: path \"/srv/{home}\" has {home} after the start; it can only begin a path"});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"/srv/logs-{user}\"]"),
		  Messages{"p.toml:8:10: path \"/srv/logs-{user}\" has {user} inside the component \"logs-{user}\"; a "
			   "placeholder must be a whole component"});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"{user}/x\"]"),
		  Messages{"p.toml:8:10: path \"{user}/x\" starts with {user}, a single component; start it with "
			   "\"/\", \"{workspace}\" or \"{home}\""});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"/usr\", \"/usr/\"]"),
		  Messages{"p.toml:8:18: \"/usr/\" is listed twice (as /usr)"});
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"tcp:192.0.2.1:443\"]"),
		  Messages{"p.toml:8:10: \"tcp:192.0.2.1:443\" is an endpoint; list it in endpoints"});
	// Placeholders, "." and "//" are fine.
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = [\"{home}//./.cache/\", \"/srv/{user}/logs\"]"), Messages{});
}

TEST_F(ProfileCheck, RejectsBadEndpoints)
{
	EXPECT_EQ(check_rule("rights = [\"connect\"]", "endpoints = [\"tcp:192.0.2.10/24:443\"]"),
		  Messages{"p.toml:8:14: endpoint \"tcp:192.0.2.10/24:443\": address \"192.0.2.10/24\" has bits set "
			   "beyond /24 (the network is 192.0.2.0/24)"});
	EXPECT_EQ(check_rule("rights = [\"connect\"]", "endpoints = [\"tcp:2001:db8::1:443\"]"),
		  Messages{"p.toml:8:14: endpoint \"tcp:2001:db8::1:443\" has an IPv6 address without brackets; "
			   "write e.g. tcp:[2001:db8::1]:443"});
	EXPECT_EQ(check_rule("rights = [\"connect\"]", "endpoints = [\"/run/app.sock\"]"),
		  Messages{"p.toml:8:14: \"/run/app.sock\" is a path; list it in paths, or write "
			   "\"unix:/run/app.sock\" for a unix socket"});
	EXPECT_EQ(check_rule("rights = [\"connect\"]", "endpoints = [\"unix:{workspace}/../s\"]"),
		  Messages{"p.toml:8:14: endpoint \"unix:{workspace}/../s\" has a \"..\" component"});
	EXPECT_EQ(check_rule("rights = [\"connect\"]", "endpoints = [\"tcp:[::ffff:192.0.2.1]:443\", "
						       "\"unix:{workspace}/app.sock\", \"udp:[2001:db8::/32]:any\"]"),
		  Messages{});
}

TEST_F(ProfileCheck, RejectsRightsThatDoNotApplyToTheResourceKind)
{
	EXPECT_EQ(check_rule("rights = [\"read\", \"connect\"]", "paths = [\"/run/app.sock\"]"),
		  Messages{"p.toml:7:19: right \"connect\" does not apply to paths; sockets are endpoints such as "
			   "\"unix:/run/app.sock\" or \"tcp:192.0.2.10:443\""});
	EXPECT_EQ(check_rule("rights = [\"connect\", \"send\"]", "endpoints = [\"tcp:192.0.2.1:443\"]"),
		  Messages{"p.toml:7:22: right \"send\" does not apply to tcp endpoints; send covers unconnected "
			   "datagrams (udp and unix)"});
	EXPECT_EQ(check_rule("rights = [\"write\"]", "endpoints = [\"udp:192.0.2.1:53\", \"unix:/run/a.sock\"]"),
		  (Messages{"p.toml:7:11: right \"write\" does not apply to udp endpoints",
			    "p.toml:7:11: right \"write\" does not apply to unix endpoints"}));
	// A never rule that names rights is held to the same rule.
	EXPECT_EQ(check(std::string(head) + "[[never]]\nname = \"n\"\nrights = [\"exec\"]\n"
					    "endpoints = [\"tcp:169.254.169.254:any\"]\n"),
		  Messages{"p.toml:7:11: right \"exec\" does not apply to tcp endpoints"});
}

TEST_F(ProfileCheck, RejectsEmptyResourceLists)
{
	EXPECT_EQ(check_rule("rights = [\"read\"]", "paths = []"),
		  (Messages{"p.toml:8:9: paths must not be empty; leave the key out instead"}));
	// A broken resource list stops the checks that depend on it, to avoid
	// reporting fallout (here: connect on the path).
	EXPECT_EQ(check_rule("rights = [\"connect\"]", "endpoints = []\npaths = [\"/x\"]"),
		  Messages{"p.toml:8:13: endpoints must not be empty; leave the key out instead"});
}

TEST_F(ProfileCheck, RejectsDuplicateRuleNamesAcrossSections)
{
	EXPECT_EQ(check(std::string(head) + "[[never]]\n"
					    "name = \"keys\"\n"
					    "paths = [\"{home}/.ssh\"]\n"
					    "[[baseline]]\n"
					    "name = \"keys\"\n"
					    "rights = [\"read\"]\n"
					    "paths = [\"/usr\"]\n"),
		  Messages{"p.toml:9:8: duplicate rule name \"keys\" (first defined at line 6)"});
}

TEST_F(ProfileCheck, RejectsABaselineThatCoversANeverPath)
{
	std::string never = "[[never]]\nname = \"ssh-keys\"\npaths = [\"{home}/.ssh\"]\n";
	EXPECT_EQ(check(std::string(head) + never +
			"[[baseline]]\nname = \"home\"\nrights = [\"read\"]\npaths = [\"/usr\", \"{home}\"]\n"),
		  Messages{"p.toml:11:18: baseline rule \"home\" breaks a never rule: read on {home} would also cover "
			   "{home}/.ssh, which never rule \"ssh-keys\" forbids"});
	EXPECT_EQ(check(std::string(head) + never +
			"[[baseline]]\nname = \"cfg\"\nrights = [\"read\"]\npaths = [\"{home}/.ssh/config\"]\n"),
		  Messages{"p.toml:11:10: baseline rule \"cfg\" breaks a never rule: never rule \"ssh-keys\" forbids "
			   "read on {home}/.ssh/config"});
	// Rights that the never rule does not forbid are no conflict.
	EXPECT_EQ(check(std::string(head) +
			"[[never]]\nname = \"hooks\"\nrights = [\"write\"]\npaths = [\"{workspace}/.git/hooks\"]\n"
			"[[baseline]]\nname = \"ws\"\nrights = [\"read\"]\npaths = [\"{workspace}\"]\n"),
		  Messages{});
}

TEST_F(ProfileCheck, RejectsGrantableRulesThatCouldNeverApply)
{
	EXPECT_EQ(check(std::string(head) + "[[never]]\nname = \"ssh-keys\"\npaths = [\"{home}/.ssh\"]\n"
					    "[[grantable]]\nname = \"ssh-config\"\nrights = [\"read\"]\n"
					    "paths = [\"{home}/.ssh/config\"]\nmax_ttl = \"5m\"\napproval = \"auto\"\n"),
		  Messages{"p.toml:11:10: grantable rule \"ssh-config\" can never be granted: never rule \"ssh-keys\" "
			   "forbids read on {home}/.ssh/config"});
	EXPECT_EQ(check(std::string(head) + "[[baseline]]\nname = \"tools\"\nrights = [\"read\", \"exec\"]\n"
					    "paths = [\"/usr/bin\"]\n"
					    "[[grantable]]\nname = \"pip\"\nrights = [\"exec\"]\n"
					    "paths = [\"/usr/bin/pip3\"]\nmax_ttl = \"5m\"\napproval = \"required\"\n"),
		  Messages{"p.toml:12:10: grantable rule \"pip\" gives exec on /usr/bin/pip3, which baseline rule "
			   "\"tools\" already gives for the whole session; its approval and max_ttl would never apply"});
}

TEST_F(ProfileCheck, ChecksNamesAndEnumeratedValues)
{
	EXPECT_EQ(check(head, "other"),
		  Messages{"other.toml:1:8: name \"p\" must match the file name \"other.toml\" (name = \"other\")"});
	EXPECT_EQ(check("name = \"Coding Agent\"\ndescription = \"x\"\n[session]\nmax_duration = \"1h\"\n"),
		  Messages{"p.toml:1:8: name \"Coding Agent\" must be 1-64 characters of a-z, 0-9, \"-\" and \"_\", "
			   "starting with a letter or digit"});
	EXPECT_EQ(check("name = \"p\"\ndescription = \"\"\n[session]\nmax_duration = \"1h\"\n"),
		  Messages{"p.toml:2:15: description must not be empty"});
	EXPECT_EQ(check(std::string(head) + "mode = \"strict\"\nmax_delegation_depth = 9\n"),
		  (Messages{"p.toml:5:8: mode \"strict\" must be \"enforce\" or \"permissive\"",
			    "p.toml:6:24: max_delegation_depth 9 is out of range 0-8"}));
	EXPECT_EQ(check(std::string(head) + "max_delegation_depth = -1\n"),
		  Messages{"p.toml:5:24: max_delegation_depth -1 is out of range 0-8"});
	EXPECT_EQ(check(std::string(head) + "[[grantable]]\nname = \"r\"\nrights = [\"read\"]\npaths = [\"/w\"]\n"
					    "max_ttl = \"5m\"\napproval = \"maybe\"\n"),
		  Messages{"p.toml:10:12: approval \"maybe\" must be \"auto\" or \"required\""});
	EXPECT_EQ(check(std::string(head) + "[baseline]\nname = \"b\"\n"),
		  Messages{"p.toml:5:1: baseline must be an array of tables ([[baseline]]), not a table"});
}

TEST_F(ProfileCheck, ReportsEveryProblemInFileOrder)
{
	EXPECT_EQ(check("name = \"p\"\n"
			"[session]\n"
			"max_duration = \"0s\"\n"
			"[[grantable]]\n"
			"name = \"r\"\n"
			"rights = [\"connect\"]\n"
			"paths = [\"src\"]\n"
			"max_ttl = \"5m\"\n"
			"approval = \"auto\"\n"),
		  (Messages{"p.toml:1:1: missing key description at the top level",
			    "p.toml:3:16: max_duration: duration \"0s\" is zero; it must be positive",
			    "p.toml:7:10: path \"src\" is relative; start it with \"/\", \"{workspace}\" or \"{home}\""}));
}

TEST(ParseProfile, BuildsTheProfileFromText)
{
	auto profile = parse_profile("name = \"demo\"\n"
				     "description = \"a demo\"\n"
				     "[session]\n"
				     "mode = \"permissive\"\n"
				     "max_duration = \"2h\"\n"
				     "max_delegation_depth = 1\n"
				     "[[baseline]]\n"
				     "name = \"libs\"\n"
				     "rights = [\"read\", \"map-exec\"]\n"
				     "paths = [\"/usr/lib/\"]\n"
				     "[[grantable]]\n"
				     "name = \"api\"\n"
				     "description = \"the api\"\n"
				     "rights = [\"connect\"]\n"
				     "endpoints = [\"tcp:[::ffff:192.0.2.7]:8443\"]\n"
				     "max_ttl = \"10m\"\n"
				     "approval = \"required\"\n"
				     "[[never]]\n"
				     "name = \"keys\"\n"
				     "paths = [\"{home}/.ssh\"]\n",
				     "/etc/grantd/profiles.d/demo.toml");
	ASSERT_TRUE(profile) << profile.error().message;
	const Profile& p = profile.value();
	EXPECT_EQ(p.name, "demo");
	EXPECT_EQ(p.description, "a demo");
	EXPECT_EQ(p.session.mode, Mode::permissive);
	EXPECT_EQ(p.session.max_duration, Duration{7200});
	EXPECT_EQ(p.session.max_delegation_depth, 1u);
	ASSERT_EQ(p.baseline.size(), 1u);
	EXPECT_EQ(p.baseline[0].rights, (Rights{Right::read, Right::map_exec}));
	EXPECT_EQ(p.baseline[0].resources, std::vector{parse_resource("/usr/lib").value()});
	ASSERT_EQ(p.grantable.size(), 1u);
	EXPECT_EQ(p.grantable[0].name, "api");
	EXPECT_EQ(p.grantable[0].description, "the api");
	EXPECT_EQ(to_string(p.grantable[0].resources.at(0)), "tcp:192.0.2.7:8443");
	EXPECT_EQ(p.grantable[0].max_ttl, Duration{600});
	EXPECT_EQ(p.grantable[0].approval, Approval::required);
	ASSERT_EQ(p.never.size(), 1u);
	EXPECT_EQ(p.never[0].rights, Rights::all());
	EXPECT_EQ(p.never[0].resources.at(0).path, "{home}/.ssh");
}

TEST(ParseProfile, JoinsEveryProblemIntoTheError)
{
	auto profile = parse_profile("name = \"x\"\n", "y.toml");
	ASSERT_FALSE(profile);
	EXPECT_EQ(profile.error().message, "y.toml:1:1: missing key description at the top level\n"
					   "y.toml:1:1: missing table [session]\n"
					   "y.toml:1:8: name \"x\" must match the file name \"y.toml\" (name = \"y\")");
}

TEST(ParseProfile, NeverThrowsOnAnyPrefixOfAValidProfile)
{
	// What a fuzzer would start from: every truncation of a real profile
	// parses or fails with located errors, and nothing escapes.
	std::ifstream in(std::string(GRANTD_PROFILES_DIR) + "/coding-agent.toml");
	std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	ASSERT_GT(text.size(), 1000u);
	for (std::size_t n = 0; n < text.size(); n += 7) {
		auto profile = parse_profile(std::string_view(text).substr(0, n), "coding-agent.toml");
		if (!profile) {
			EXPECT_TRUE(profile.error().message.starts_with("coding-agent.toml:")) << profile.error().message;
		}
	}
}
