// grant-run and grantctl as a user runs them: bad input (one line, exit 2),
// profile check without the daemon, and every D-Bus call against a fake
// grantd on a private bus (signatures of docs/dbus.md, outputs, statuses).
#include "fake_grantd.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Outcome {
	int status = -1;
	std::string out, err;
};

std::string slurp(const std::string& path)
{
	std::ifstream in(path);
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

Outcome run(const std::string& binary, const std::vector<std::string>& args, const std::vector<std::string>& env = {})
{
	std::string dir = std::filesystem::temp_directory_path() / ("clients-test-" + std::to_string(getpid()));
	std::filesystem::create_directories(dir);
	pid_t pid = fork();
	if (pid == 0) {
		int out = open((dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open((dir + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(out, 1);
		dup2(err, 2);
		unsetenv("GRANTD_BUS_ADDRESS");
		unsetenv("GRANTD_SYSTEM_BUS_ADDRESS");
		for (const auto& e : env)
			putenv(const_cast<char*>(e.c_str()));
		std::vector<char*> argv{const_cast<char*>(binary.c_str())};
		for (const auto& a : args)
			argv.push_back(const_cast<char*>(a.c_str()));
		argv.push_back(nullptr);
		execv(binary.c_str(), argv.data());
		_exit(127);
	}
	int wstatus = 0;
	waitpid(pid, &wstatus, 0);
	Outcome r;
	r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	r.out = slurp(dir + "/out");
	r.err = slurp(dir + "/err");
	std::filesystem::remove_all(dir);
	return r;
}

int lines(const std::string& text)
{
	int n = 0;
	for (char c : text)
		n += c == '\n';
	return n;
}

Outcome grant_run(const std::vector<std::string>& args, const std::vector<std::string>& env = {})
{
	return run(GRANT_RUN_BIN, args, env);
}
Outcome grantctl(const std::vector<std::string>& args, const std::vector<std::string>& env = {})
{
	return run(GRANTCTL_BIN, args, env);
}

void expect_usage_error(const Outcome& r, const std::string& needle)
{
	EXPECT_EQ(r.status, 2) << r.err;
	EXPECT_EQ(lines(r.err), 1) << r.err;
	EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
	EXPECT_EQ(r.out, "");
}

} // namespace

// --- bad input: one line, exit 2 -------------------------------------------

TEST(GrantRunUsage, MissingDashDash) { expect_usage_error(grant_run({"--profile", "coding-agent", "ls"}), "missing '--'"); }
TEST(GrantRunUsage, NoCommand) { expect_usage_error(grant_run({"--profile", "coding-agent", "--"}), "no command"); }
TEST(GrantRunUsage, BadDuration) { expect_usage_error(grant_run({"--profile", "p", "--ttl", "5x", "--", "true"}), "--ttl"); }
TEST(GrantRunUsage, UnknownOption) { expect_usage_error(grant_run({"--frobnicate", "--", "true"}), "unknown option '--frobnicate'"); }
TEST(GrantRunUsage, MissingProfile) { expect_usage_error(grant_run({"--", "true"}), "--profile NAME is required"); }
TEST(GrantRunUsage, BadMode) { expect_usage_error(grant_run({"--profile", "p", "--mode", "lenient", "--", "true"}), "--mode"); }
TEST(GrantRunUsage, MissingWorkspace)
{
	expect_usage_error(grant_run({"--profile", "p", "--workspace", "/nonexistent/dir", "--", "true"}), "--workspace");
}
TEST(GrantRunUsage, OptionNeedsValue) { expect_usage_error(grant_run({"--profile"}), "needs a value"); }
TEST(GrantRunUsage, HelpAndVersion)
{
	auto help = grant_run({"--help"});
	EXPECT_EQ(help.status, 0);
	EXPECT_NE(help.out.find("Exit status:"), std::string::npos);
	EXPECT_EQ(grant_run({"--version"}).status, 0);
}

TEST(GrantctlUsage, UnknownCommand) { expect_usage_error(grantctl({"frobnicate"}), "unknown command 'frobnicate'"); }
TEST(GrantctlUsage, NoCommand) { expect_usage_error(grantctl({}), "no command"); }
TEST(GrantctlUsage, UnknownOption) { expect_usage_error(grantctl({"sessions", "--frobnicate"}), "unknown option '--frobnicate'"); }
TEST(GrantctlUsage, OptionOfAnotherCommand) { expect_usage_error(grantctl({"sessions", "--right", "read"}), "does not apply"); }
TEST(GrantctlUsage, BadDuration)
{
	expect_usage_error(grantctl({"request", "--right", "write", "--ttl", "5 minutes", "--purpose", "x", "/w"}), "--ttl");
}
TEST(GrantctlUsage, BadRight) { expect_usage_error(grantctl({"request", "--right", "scribble", "/w"}), "not a right"); }
TEST(GrantctlUsage, BadResource)
{
	expect_usage_error(grantctl({"request", "--right", "write", "--ttl", "5m", "--purpose", "x", "relative/path"}),
			   "not a resource");
}
TEST(GrantctlUsage, MissingPurpose) { expect_usage_error(grantctl({"request", "--right", "write", "--ttl", "5m", "/w"}), "--purpose"); }
TEST(GrantctlUsage, BadId) { expect_usage_error(grantctl({"revoke", "abc"}), "GRANT id"); }
TEST(GrantctlUsage, BadTime) { expect_usage_error(grantctl({"audit", "--since", "yesterday"}), "--since"); }
TEST(GrantctlUsage, HelpListsExitStatus)
{
	auto help = grantctl({"--help"});
	EXPECT_EQ(help.status, 0);
	EXPECT_NE(help.out.find("Exit status:"), std::string::npos);
}

TEST(GrantctlUnreachable, ExitsThreeWithOneLine)
{
	auto r = grantctl({"--bus", "unix:path=/nonexistent/bus", "sessions"});
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_EQ(lines(r.err), 1) << r.err;
	EXPECT_NE(r.err.find("cannot reach grantd"), std::string::npos) << r.err;
	auto g = grant_run({"--bus", "unix:path=/nonexistent/bus", "--profile", "p", "--", "true"});
	EXPECT_EQ(g.status, 125) << g.err;
	EXPECT_NE(g.err.find("cannot reach grantd"), std::string::npos) << g.err;
}

// --- profile check: no daemon -------------------------------------------

TEST(ProfileCheck, ShippedProfilesPass)
{
	std::vector<std::string> args{"profile", "check"};
	for (const auto& entry : std::filesystem::directory_iterator(GRANTD_PROFILES_DIR))
		if (entry.path().extension() == ".toml")
			args.push_back(entry.path().string());
	ASSERT_GE(args.size(), 5u);
	auto r = grantctl(args);
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.err, "");
	EXPECT_NE(r.out.find("coding-agent.toml: ok"), std::string::npos) << r.out;
}

TEST(ProfileCheck, BrokenProfileNamesFileLineColumn)
{
	std::string dir = std::filesystem::temp_directory_path() / ("profile-check-" + std::to_string(getpid()));
	std::filesystem::create_directories(dir);
	std::string path = dir + "/broken.toml";
	std::ofstream(path) << "name = \"broken\"\n"
			       "[session]\n"
			       "mode = \"enforce\"\n"
			       "max_duration = \"8h\"\n"
			       "[[grantable]]\n"
			       "name = \"edit\"\n"
			       "rights = [\"scribble\"]\n"
			       "paths = [\"{workspace}/src\"]\n"
			       "max_ttl = \"5m\"\n"
			       "approval = \"auto\"\n";
	auto r = grantctl({"profile", "check", path});
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.err.find(path + ":7:"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("scribble"), std::string::npos) << r.err;
	auto json = grantctl({"--json", "profile", "check", path});
	EXPECT_EQ(json.status, 1);
	EXPECT_NE(json.out.find("\"ok\":false"), std::string::npos) << json.out;
	auto missing = grantctl({"profile", "check", dir + "/absent.toml"});
	EXPECT_EQ(missing.status, 1);
	EXPECT_NE(missing.err.find("absent.toml"), std::string::npos) << missing.err;
	std::filesystem::remove_all(dir);
}

// --- against a fake grantd ---------------------------------------------

class AgainstFake : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (std::system("command -v dbus-daemon >/dev/null") != 0)
			GTEST_SKIP() << "dbus-daemon is not installed (packaging/install-deps installs it)";
		ASSERT_EQ(fake_.error(), "");
		bus_ = "GRANTD_SYSTEM_BUS_ADDRESS=" + fake_.address();
	}
	Outcome ctl(std::vector<std::string> args) { return grantctl(args, {bus_}); }
	Outcome launch(std::vector<std::string> args) { return grant_run(args, {bus_}); }

	grantd::testing::FakeGrantd fake_;
	std::string bus_;
};

TEST_F(AgainstFake, GrantRunOpensAdmitsConfinesAndCloses)
{
	auto r = launch({"--profile", "coding-agent", "--workspace", "/tmp", "--purpose", "test run", "--mode", "permissive",
			 "--ttl", "30m", "--", "/bin/sh", "-c",
			 "echo bus=$GRANTD_BUS_ADDRESS session=$GRANTD_SESSION cwd=$(pwd); "
			 "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
			 "unshare -U true 2>/dev/null && echo unshare=ok || echo unshare=failed; "
			 "mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=failed"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("bus=unix:path=/tmp/fake-grantd."), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("session=7 cwd=/tmp"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("CapPrm:\t0000000000000000"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("CapAmb:\t0000000000000000"), std::string::npos) << r.out;
	if (geteuid() == 0) {
		EXPECT_NE(r.out.find("CapBnd:\t0000000000000000"), std::string::npos) << r.out;
	}
	EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("unshare=failed"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("mount=failed"), std::string::npos) << r.out;
	EXPECT_NE(r.err.find("baseline not applied: /etc/missing"), std::string::npos) << r.err;

	auto calls = fake_.calls();
	ASSERT_GE(calls.size(), 3u);
	EXPECT_EQ(calls[0], "OpenSession coding-agent /tmp [test run] {mode=permissive ttl=30m}");
	EXPECT_TRUE(calls[1].starts_with("AdmitProcess 7 pid=")) << calls[1];
	EXPECT_NE(calls[1], "AdmitProcess 7 pid=?");
	EXPECT_EQ(calls[2], "CloseSession 7 [grant-run: command exited with status 0]");
}

TEST_F(AgainstFake, GrantRunExitStatusesComeBackUnchanged)
{
	EXPECT_EQ(launch({"--profile", "p", "--", "true"}).status, 0);
	EXPECT_EQ(launch({"--profile", "p", "--", "false"}).status, 1);
	EXPECT_EQ(launch({"--profile", "p", "--", "/bin/sh", "-c", "exit 42"}).status, 42);
	EXPECT_EQ(launch({"--profile", "p", "--", "/bin/sh", "-c", "kill -KILL $$"}).status, 137);
	EXPECT_EQ(launch({"--profile", "p", "--", "/nonexistent/agent"}).status, 127);
	EXPECT_TRUE(fake_.called("CloseSession 7 [grant-run: command exited with status 137]"));
}

TEST_F(AgainstFake, GrantRunForwardsSignals)
{
	// The shell sends SIGTERM to grant-run (its parent); grant-run passes it on.
	auto r = launch({"--profile", "p", "--", "/bin/sh", "-c", "kill -TERM $PPID; sleep 5; exit 0"});
	EXPECT_EQ(r.status, 143) << r.err;
}

TEST_F(AgainstFake, GrantRunClosesTheSessionOnlyOnceTheWholeTreeHasExited)
{
	// COMMAND exits at once with 3; the job it started in the background
	// finishes a second later. grant-run must wait for it.
	std::string mark = std::filesystem::temp_directory_path() / ("grant-run-tree." + std::to_string(getpid()));
	std::filesystem::remove(mark);
	auto r = launch({"--profile", "p", "--", "/bin/sh", "-c", "(sleep 1; echo done >" + mark + ") & exit 3"});
	EXPECT_EQ(r.status, 3) << r.err;
	std::ifstream in(mark);
	std::string text;
	std::getline(in, text);
	EXPECT_EQ(text, "done") << "grant-run returned before the background job finished";
	EXPECT_NE(r.err.find("exited with status 3; session 7 stays open until the "), std::string::npos)
		<< r.err;
	EXPECT_TRUE(fake_.called("CloseSession 7 [grant-run: command exited with status 3]"));
	std::filesystem::remove(mark);
}

TEST_F(AgainstFake, GrantRunForwardsSignalsToWhatCommandLeftBehind)
{
	// COMMAND exits; the process it left behind (re-parented to grant-run,
	// the subreaper) sends SIGTERM to grant-run, which passes it on to it.
	std::string mark = std::filesystem::temp_directory_path() / ("grant-run-left." + std::to_string(getpid()));
	std::filesystem::remove(mark);
	std::string left = "trap 'echo got-term >" + mark +
			   "; exit 0' TERM; sleep 0.5; kill -TERM $(cut -d' ' -f4 /proc/$$/stat); "
			   "while :; do sleep 0.1; done";
	auto r = launch({"--profile", "p", "--", "/bin/sh", "-c", "/bin/sh -c \"$0\" & exit 0", left});
	EXPECT_EQ(r.status, 0) << r.err;
	std::ifstream in(mark);
	std::string text;
	std::getline(in, text);
	EXPECT_EQ(text, "got-term") << r.err;
	std::filesystem::remove(mark);
}

TEST_F(AgainstFake, GrantRunUnknownProfileIsAUsageError)
{
	auto r = launch({"--profile", "nope", "--", "true"});
	EXPECT_EQ(r.status, 2);
	EXPECT_EQ(lines(r.err), 1) << r.err;
	EXPECT_NE(r.err.find("no profile 'nope'"), std::string::npos) << r.err;
	EXPECT_FALSE(fake_.called("AdmitProcess"));
}

TEST_F(AgainstFake, GrantRunRefusedCallerIs125)
{
	fake_.deny_everything = true;
	auto r = launch({"--profile", "p", "--", "true"});
	EXPECT_EQ(r.status, 125);
	EXPECT_NE(r.err.find("needs an administrator"), std::string::npos) << r.err;
}

TEST_F(AgainstFake, Sessions)
{
	auto r = ctl({"sessions"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("SESSION"), std::string::npos);
	EXPECT_NE(r.out.find("coding-agent"), std::string::npos);
	EXPECT_NE(r.out.find("fix the parser"), std::string::npos);
	auto j = ctl({"--json", "sessions"});
	EXPECT_EQ(j.status, 0);
	EXPECT_NE(j.out.find(R"({"id":7,"profile":"coding-agent","purpose":"fix the parser","mode":"enforce","parent":0)"),
		  std::string::npos)
		<< j.out;
}

TEST_F(AgainstFake, GrantsOfAllSessionsOrOne)
{
	auto r = ctl({"grants"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(fake_.called("ListGrants 7"));
	EXPECT_TRUE(fake_.called("ListGrants 8")) << testing::PrintToString(fake_.calls());
	EXPECT_NE(r.out.find("edit-source"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("system-files (baseline)"), std::string::npos) << r.out;
	auto j = ctl({"--json", "grants", "7"});
	EXPECT_EQ(j.status, 0);
	EXPECT_NE(j.out.find(R"("rights":["write"],"resources":["/w/src"],"rule":"edit-source")"), std::string::npos) << j.out;
}

TEST_F(AgainstFake, RequestIssuedPendingRefused)
{
	auto issued = ctl({"request", "--right", "write,create", "--ttl", "5m", "--purpose", "fix the lexer", "/w/src"});
	EXPECT_EQ(issued.status, 0) << issued.err;
	EXPECT_NE(issued.out.find("issued: grant 21 (rule edit-source)"), std::string::npos) << issued.out;
	EXPECT_TRUE(fake_.called("RequestGrant 0 write,create /w/src 5m [fix the lexer]"));

	auto pending = ctl({"request", "--right", "exec", "--ttl", "10m", "--purpose", "deps", "/pending/pip3"});
	EXPECT_EQ(pending.status, 5) << pending.err;
	EXPECT_NE(pending.out.find("pending: request 12"), std::string::npos) << pending.out;

	auto waited = ctl({"request", "--wait", "--right", "exec", "--ttl", "10m", "--purpose", "deps", "/pending/pip3"});
	EXPECT_EQ(waited.status, 0) << waited.err;
	EXPECT_TRUE(fake_.called("WaitRequest 12"));
	EXPECT_NE(waited.out.find("issued: grant 22"), std::string::npos) << waited.out;

	auto denied = ctl({"wait", "13"});
	EXPECT_EQ(denied.status, 1);
	EXPECT_NE(denied.out.find("denied: request 13: not during the freeze"), std::string::npos) << denied.out;

	auto refused = ctl({"request", "--right", "read", "--ttl", "5m", "--purpose", "x", "/secret/key"});
	EXPECT_EQ(refused.status, 1);
	EXPECT_EQ(lines(refused.err), 1) << refused.err;
	EXPECT_NE(refused.err.find("never rule ssh-keys"), std::string::npos) << refused.err;
	EXPECT_NE(refused.err.find("(Refused)"), std::string::npos) << refused.err;
}

TEST_F(AgainstFake, RequestInsideAnAgentUsesTheSessionChannel)
{
	// $GRANTD_BUS_ADDRESS is a peer-to-peer channel: not a bus, so the
	// fake (which is on a bus) cannot answer, but grantctl must try it.
	auto r = grantctl({"request", "--right", "write", "--ttl", "5m", "--purpose", "x", "/w/src"},
			  {"GRANTD_BUS_ADDRESS=unix:path=/nonexistent/session/7/bus"});
	EXPECT_EQ(r.status, 3);
	EXPECT_NE(r.err.find("session channel unix:path=/nonexistent/session/7/bus"), std::string::npos) << r.err;
}

TEST_F(AgainstFake, PendingApproveDenyRevokeCloseMode)
{
	auto p = ctl({"pending"});
	EXPECT_EQ(p.status, 0) << p.err;
	EXPECT_NE(p.out.find("package-install"), std::string::npos) << p.out;
	EXPECT_NE(p.out.find("read,exec"), std::string::npos) << p.out;

	auto a = ctl({"approve", "12", "--note", "ok for this build"});
	EXPECT_EQ(a.status, 0) << a.err;
	EXPECT_NE(a.out.find("approved request 12: grant 22"), std::string::npos) << a.out;
	EXPECT_TRUE(fake_.called("Approve 12 [ok for this build]"));

	auto np = ctl({"approve", "99"});
	EXPECT_EQ(np.status, 1);
	EXPECT_NE(np.err.find("not pending"), std::string::npos) << np.err;

	EXPECT_EQ(ctl({"deny", "12", "--reason", "no"}).status, 0);
	EXPECT_TRUE(fake_.called("Deny 12 [no]"));
	EXPECT_EQ(ctl({"revoke", "21", "--reason", "done"}).status, 0);
	EXPECT_TRUE(fake_.called("Revoke 21 [done]"));
	auto gone = ctl({"revoke", "999"});
	EXPECT_EQ(gone.status, 1);
	EXPECT_NE(gone.err.find("NoSuchGrant"), std::string::npos) << gone.err;
	EXPECT_EQ(ctl({"close", "7", "--reason", "end"}).status, 0);
	EXPECT_TRUE(fake_.called("CloseSession 7 [end]"));
	EXPECT_EQ(ctl({"mode", "7", "permissive"}).status, 0);
	EXPECT_TRUE(fake_.called("SetMode 7 [permissive]"));
}

TEST_F(AgainstFake, AuditQueryVerifyExport)
{
	auto q = ctl({"audit", "--session", "7", "--grant", "21", "--since", "@1767225600", "--path", "/w/src", "--limit", "10"});
	EXPECT_EQ(q.status, 0) << q.err;
	EXPECT_TRUE(fake_.called("Query {session=7 grant=21 since=1767225600000000 path=/w/src limit=10}"))
		<< testing::PrintToString(fake_.calls());
	EXPECT_NE(q.out.find("1 2026-01-01T00:00:05Z request session=7 rights=write resources=/w/src purpose=\"fix the lexer\""),
		  std::string::npos)
		<< q.out;
	EXPECT_NE(q.out.find("2 2026-01-01T00:00:06Z grant grant=21 session=7 rule=edit-source"), std::string::npos) << q.out;

	auto e = ctl({"audit", "export"});
	EXPECT_EQ(e.status, 0);
	EXPECT_EQ(lines(e.out), 2);
	EXPECT_TRUE(e.out.starts_with(R"({"seq":1,)")) << e.out;

	auto v = ctl({"audit", "verify"});
	EXPECT_EQ(v.status, 0);
	EXPECT_NE(v.out.find("verified: 42 records"), std::string::npos) << v.out;
	fake_.chain_broken = true;
	auto b = ctl({"audit", "verify"});
	EXPECT_EQ(b.status, 1);
	EXPECT_NE(b.out.find("record 17"), std::string::npos) << b.out;
}

TEST_F(AgainstFake, ExplainWhyReport)
{
	auto e = ctl({"explain", "7", "write", "/w/src/x"});
	EXPECT_EQ(e.status, 0) << e.err;
	EXPECT_TRUE(fake_.called("Explain 7 write /w/src/x"));
	EXPECT_NE(e.out.find("rule edit-source"), std::string::npos) << e.out;
	auto j = ctl({"--json", "explain", "write", "/w/src/x"});
	EXPECT_TRUE(fake_.called("Explain 0 write /w/src/x"));
	EXPECT_NE(j.out.find(R"("rule":"edit-source")"), std::string::npos) << j.out;
	auto w = ctl({"why", "7", "/w/src/x", "write"});
	EXPECT_EQ(w.status, 0) << w.err;
	EXPECT_NE(w.out.find("allowed by grant 21"), std::string::npos) << w.out;
	auto r = ctl({"report", "21"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("grant 21: requested"), std::string::npos) << r.out;
}

TEST_F(AgainstFake, AccessDeniedIsFour)
{
	fake_.deny_everything = true;
	auto r = ctl({"pending"});
	EXPECT_EQ(r.status, 4);
	EXPECT_EQ(lines(r.err), 1) << r.err;
	EXPECT_NE(r.err.find("needs an administrator"), std::string::npos) << r.err;
}

TEST_F(AgainstFake, AuditFollowPrintsEachRecordOnce)
{
	// Runs for three seconds: the first query, then at least one more on
	// the two-second poll; records already printed are not printed again.
	auto r = run("/usr/bin/timeout", {"-s", "TERM", "3", GRANTCTL_BIN, "audit", "-f"}, {bus_});
	EXPECT_EQ(r.status, 124) << r.err;
	EXPECT_EQ(lines(r.out), 2) << r.out;
	int queries = 0;
	for (const auto& call : fake_.calls())
		queries += call.starts_with("Query");
	EXPECT_GE(queries, 2);
	EXPECT_TRUE(fake_.called("Query {since=1767225606000000}")) << testing::PrintToString(fake_.calls());
}
