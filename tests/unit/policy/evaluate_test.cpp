// The seed's coding-agent scenario against the shipped profile, and the
// evaluator's rules on inline profiles.
#include <grantd/policy.h>

#include <gtest/gtest.h>

using namespace grantd::policy;
using namespace std::chrono_literals;

namespace {

const Context context{"/home/u/ws", "/home/u", "u"};

// evaluate(), checked against the same request through the session's
// expanded Envelope (what the daemon uses): the same decision, or the same
// error, both ways.
grantd::Result<Decision> evaluate_both(const Profile& profile, const Request& r, const Context& c)
{
	auto direct = evaluate(profile, r, c);
	auto envelope = Envelope::expand(profile, c);
	grantd::Result<Decision> through = envelope ? envelope->evaluate(r) : grantd::Result<Decision>(envelope.error());
	if (direct && through)
		EXPECT_EQ(direct.value(), through.value());
	else if (!direct && !through)
		EXPECT_EQ(direct.error().message, through.error().message);
	else
		ADD_FAILURE() << "evaluate: " << (direct ? direct.value().reason : direct.error().message)
			      << "; through the envelope: "
			      << (through ? through.value().reason : through.error().message);
	return direct;
}

Request request(Rights rights, std::initializer_list<std::string_view> resources, Duration ttl = 10min)
{
	Request r{rights, {}, ttl, "fix the parser"};
	for (std::string_view text : resources)
		r.resources.push_back(parse_resource(text).value());
	return r;
}

class CodingAgent : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		auto loaded = load_profile(std::string(GRANTD_PROFILES_DIR) + "/coding-agent.toml");
		ASSERT_TRUE(loaded) << loaded.error().message;
		profile_ = new Profile(std::move(loaded.value()));
	}
	static void TearDownTestSuite() { delete profile_; }

	static Decision decide(const Request& r, const Context& c = context)
	{
		auto d = evaluate_both(*profile_, r, c);
		EXPECT_TRUE(d) << d.error().message;
		return d ? d.value() : Decision{Verdict::deny, "", 0s, false, "error: " + d.error().message};
	}

	static Profile* profile_;
};

Profile* CodingAgent::profile_ = nullptr;

} // namespace

TEST_F(CodingAgent, IssuesWriteUnderSrcClampedToTheRulesTtl)
{
	Decision d = decide(request({Right::write}, {"/home/u/ws/src/parser"}, 2h));
	EXPECT_EQ(d.verdict, Verdict::issue);
	EXPECT_EQ(d.rule, "edit-source");
	EXPECT_EQ(d.ttl, 30min);
	EXPECT_TRUE(d.clamped);
	EXPECT_EQ(d.reason, "rule \"edit-source\" gives write on /home/u/ws/src/parser for 30m (2h requested, clamped "
			    "to the rule's max_ttl)");
}

TEST_F(CodingAgent, IssuesAShortRequestAsAsked)
{
	Decision d = decide(request({Right::write, Right::create}, {"/home/u/ws/src/parser", "/home/u/ws/tests/parser"},
				    5min));
	EXPECT_EQ(d.verdict, Verdict::issue);
	EXPECT_EQ(d.ttl, 5min);
	EXPECT_FALSE(d.clamped);
	EXPECT_EQ(d.reason, "rule \"edit-source\" gives write,create on /home/u/ws/src/parser, /home/u/ws/tests/parser "
			    "for 5m");
}

TEST_F(CodingAgent, DeniesWriteOnReadmeAsOutsideTheEnvelope)
{
	Decision d = decide(request({Right::write}, {"/home/u/ws/README"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.rule, "");
	EXPECT_EQ(d.reason, "outside the envelope: no grantable rule gives write on /home/u/ws/README");
}

TEST_F(CodingAgent, PackageInstallerNeedsApproval)
{
	Decision d = decide(request({Right::read, Right::exec}, {"/usr/bin/pip3"}, 1h));
	EXPECT_EQ(d.verdict, Verdict::pending);
	EXPECT_EQ(d.rule, "package-install");
	EXPECT_EQ(d.ttl, 10min);
	EXPECT_EQ(d.reason, "rule \"package-install\" requires approval to give read,exec on /usr/bin/pip3 for 10m (1h "
			    "requested, clamped to the rule's max_ttl)");
	// The mirror, however the address is spelled.
	d = decide(request({Right::connect}, {"tcp:[::ffff:192.0.2.20]:443"}));
	EXPECT_EQ(d.verdict, Verdict::pending);
	EXPECT_EQ(d.rule, "package-mirror");
}

TEST_F(CodingAgent, DeniesSshKeysNamingTheNeverRule)
{
	Decision d = decide(request({Right::read}, {"/home/u/.ssh/id_rsa"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.rule, "ssh-keys");
	EXPECT_EQ(d.reason, "never rule \"ssh-keys\" forbids read on /home/u/.ssh/id_rsa");
}

TEST_F(CodingAgent, DeniesADirectoryThatContainsANeverPath)
{
	Decision d = decide(request({Right::write}, {"/home/u"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.rule, "ssh-keys");
	EXPECT_EQ(d.reason, "write on /home/u would also cover /home/u/.ssh, which never rule \"ssh-keys\" forbids");

	d = decide(request({Right::write}, {"/home/u/ws"}));
	EXPECT_EQ(d.rule, "git-hooks");
	EXPECT_EQ(d.reason, "write on /home/u/ws would also cover /home/u/ws/.git/hooks, which never rule \"git-hooks\" "
			    "forbids");
	// Every resource of a request is checked, not just the first.
	d = decide(request({Right::write}, {"/home/u/ws/src/a", "/run"}));
	EXPECT_EQ(d.rule, "docker-socket");
	EXPECT_EQ(d.reason, "write on /run would also cover /run/docker.sock, which never rule \"docker-socket\" forbids");
}

TEST_F(CodingAgent, NeverRulesCoverUnixSocketsByPath)
{
	Decision d = decide(request({Right::connect}, {"unix:/run/dbus/system_bus_socket"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.rule, "system-bus");
	EXPECT_EQ(d.reason, "never rule \"system-bus\" forbids connect on unix:/run/dbus/system_bus_socket");
}

TEST_F(CodingAgent, NeverRulesWinOverGrantableRules)
{
	// Reading hooks is not forbidden (only changing them), but writing
	// inside src is fine and writing hooks is not, even bundled together.
	Decision d = decide(request({Right::write}, {"/home/u/ws/src/a", "/home/u/ws/.git/hooks/pre-commit"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.rule, "git-hooks");
	EXPECT_EQ(d.reason, "never rule \"git-hooks\" forbids write on /home/u/ws/.git/hooks/pre-commit");
}

TEST_F(CodingAgent, MultiResourceRequestsAreAllOrNothing)
{
	Decision d = decide(request({Right::write}, {"/home/u/ws/src/a", "/home/u/ws/README"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.reason, "outside the envelope: no grantable rule gives write on /home/u/ws/README");

	d = decide(request({Right::write}, {"/home/u/ws/src/a", "/home/u/ws/build/out"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.reason, "outside the envelope: no single grantable rule gives write on all of /home/u/ws/src/a, "
			    "/home/u/ws/build/out; request them separately");
}

TEST_F(CodingAgent, AllRightsMustBeCoveredByTheRule)
{
	Decision d = decide(request({Right::write, Right::exec}, {"/home/u/ws/src/a"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.reason, "outside the envelope: no grantable rule gives write,exec on /home/u/ws/src/a");
}

TEST_F(CodingAgent, SaysWhenTheBaselineAlreadyGivesIt)
{
	Decision d = decide(request({Right::read}, {"/home/u/ws/README"}));
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.reason, "outside the envelope: no grantable rule gives read on /home/u/ws/README (baseline rule "
			    "\"workspace-read\" already gives it for the whole session)");
}

TEST_F(CodingAgent, RejectsMalformedRequests)
{
	auto error_of = [](const Request& r, const Context& c = context) {
		auto d = evaluate_both(*profile_, r, c);
		return d ? std::string("decided: ") + d.value().reason : d.error().message;
	};
	EXPECT_EQ(error_of(request({}, {"/home/u/ws/src"})), "the request names no rights");
	EXPECT_EQ(error_of(request({Right::write}, {})), "the request names no resources");
	EXPECT_EQ(error_of(request({Right::write}, {"/home/u/ws/src"}, 0s)), "the request's ttl must be positive");
	Request no_purpose = request({Right::write}, {"/home/u/ws/src"});
	no_purpose.purpose.clear();
	EXPECT_EQ(error_of(no_purpose), "the request states no purpose");
	EXPECT_EQ(error_of(request({Right::connect}, {"/run/app.sock"})),
		  "right connect does not apply to paths (/run/app.sock)");
	EXPECT_EQ(error_of(request({Right::send}, {"tcp:192.0.2.1:80"})),
		  "right send does not apply to tcp endpoints (tcp:192.0.2.1:80)");
	Request hand_built = request({Right::write}, {"/home/u/ws/src"});
	hand_built.resources[0].path = "/home/u/ws/src/../../.ssh";
	EXPECT_EQ(error_of(hand_built), "path \"/home/u/ws/src/../../.ssh\" has a \"..\" component");
	hand_built.resources[0].path = "/home/u/ws/src/";
	EXPECT_EQ(error_of(hand_built), "resource \"/home/u/ws/src/\" is not in canonical form");
	EXPECT_EQ(error_of(request({Right::write}, {"/home/u/ws/src"}), Context{"/home/u/ws", "", "u"}),
		  "profile \"coding-agent\": rule \"ssh-keys\": {home} is not set for this session");
	EXPECT_EQ(error_of(request({Right::write}, {"/home/u/ws/src"}), Context{"ws", "/home/u", "u"}),
		  "context workspace: path \"ws\" is relative; paths start with \"/\"");
}

TEST_F(CodingAgent, ExpandsTheBaselineForASession)
{
	auto baseline = expand_baseline(*profile_, context);
	ASSERT_TRUE(baseline) << baseline.error().message;
	auto workspace = std::find_if(baseline.value().begin(), baseline.value().end(),
				      [](const BaselineEntry& e) { return e.rule == "workspace-read"; });
	ASSERT_NE(workspace, baseline.value().end());
	EXPECT_EQ(workspace->resource, parse_resource("/home/u/ws").value());
	EXPECT_EQ(workspace->rights, Rights{Right::read});
	EXPECT_EQ(baseline.value().front().rule, "system-files");
	EXPECT_EQ(baseline.value().front().resource.path, "/usr/lib");
	EXPECT_EQ(baseline.value().front().rights, (Rights{Right::read, Right::map_exec}));
}

TEST_F(CodingAgent, RefusesABaselineThatThisSessionsValuesTurnIntoAConflict)
{
	// A workspace that is the home directory would let the agent read ~/.ssh.
	auto baseline = expand_baseline(*profile_, Context{"/home/u", "/home/u", "u"});
	ASSERT_FALSE(baseline);
	EXPECT_EQ(baseline.error().message,
		  "profile \"coding-agent\": baseline rule \"workspace-read\" breaks a never rule in this session: read on "
		  "/home/u would also cover /home/u/.ssh, which never rule \"ssh-keys\" forbids");
}

namespace {

Profile inline_profile(std::string_view rules)
{
	auto p = parse_profile("name = \"t\"\ndescription = \"t\"\n[session]\nmax_duration = \"8h\"\n" +
				       std::string(rules),
			       "t.toml");
	EXPECT_TRUE(p) << p.error().message;
	return p ? p.value() : Profile{};
}

} // namespace

TEST(Evaluate, PrefersAutomaticRulesThenTheLongestTtlThenFileOrder)
{
	Profile p = inline_profile("[[grantable]]\nname = \"wide-approved\"\nrights = [\"write\"]\npaths = [\"/srv\"]\n"
				   "max_ttl = \"4h\"\napproval = \"required\"\n"
				   "[[grantable]]\nname = \"short\"\nrights = [\"write\"]\npaths = [\"/srv/a\"]\n"
				   "max_ttl = \"5m\"\napproval = \"auto\"\n"
				   "[[grantable]]\nname = \"long\"\nrights = [\"write\"]\npaths = [\"/srv/a/b\"]\n"
				   "max_ttl = \"1h\"\napproval = \"auto\"\n"
				   "[[grantable]]\nname = \"long-too\"\nrights = [\"write\", \"create\"]\n"
				   "paths = [\"/srv/a/b\"]\nmax_ttl = \"1h\"\napproval = \"auto\"\n");
	auto d = evaluate_both(p, request({Right::write}, {"/srv/a/b/c"}, 2h), {}).value();
	EXPECT_EQ(d.verdict, Verdict::issue);
	EXPECT_EQ(d.rule, "long");
	EXPECT_EQ(d.ttl, 1h);
	d = evaluate_both(p, request({Right::write}, {"/srv/a/x"}, 2h), {}).value();
	EXPECT_EQ(d.rule, "short");
	d = evaluate_both(p, request({Right::write}, {"/srv/x"}, 2h), {}).value();
	EXPECT_EQ(d.verdict, Verdict::pending);
	EXPECT_EQ(d.rule, "wide-approved");
	EXPECT_EQ(d.ttl, 2h);
	EXPECT_FALSE(d.clamped);
}

TEST(Evaluate, MatchesEndpointsByPrefixAndPortAndHonoursNeverRanges)
{
	Profile p = inline_profile("[[grantable]]\nname = \"lan\"\nrights = [\"connect\"]\n"
				   "endpoints = [\"tcp:10.0.0.0/8:any\", \"udp:[2001:db8::/32]:53\"]\n"
				   "max_ttl = \"1h\"\napproval = \"auto\"\n"
				   "[[never]]\nname = \"metadata\"\nendpoints = [\"tcp:10.0.0.254:any\"]\n");
	EXPECT_EQ(evaluate_both(p, request({Right::connect}, {"tcp:10.1.2.3:443"}), {}).value().verdict, Verdict::issue);
	EXPECT_EQ(evaluate_both(p, request({Right::connect}, {"udp:[2001:db8::53]:53"}), {}).value().verdict, Verdict::issue);
	auto d = evaluate_both(p, request({Right::connect}, {"udp:[2001:db8::53]:5353"}), {}).value();
	EXPECT_EQ(d.reason, "outside the envelope: no grantable rule gives connect on udp:[2001:db8::53]:5353");
	d = evaluate_both(p, request({Right::connect}, {"tcp:10.0.0.254:80"}), {}).value();
	EXPECT_EQ(d.reason, "never rule \"metadata\" forbids connect on tcp:10.0.0.254:80");
	d = evaluate_both(p, request({Right::connect}, {"tcp:10.0.0.0/24:any"}), {}).value();
	EXPECT_EQ(d.reason, "connect on tcp:10.0.0.0/24:any would also cover tcp:10.0.0.254:any, which never rule "
			    "\"metadata\" forbids");
	d = evaluate_both(p, request({Right::connect}, {"tcp:10.0.0.0/24:443"}), {}).value();
	EXPECT_EQ(d.reason, "connect on tcp:10.0.0.0/24:443 overlaps tcp:10.0.0.254:any, which never rule \"metadata\" "
			    "forbids");
}

TEST(Evaluate, FillsInTheUserPlaceholder)
{
	Profile p = inline_profile("[[grantable]]\nname = \"own-logs\"\nrights = [\"read\"]\n"
				   "paths = [\"/srv/logs/{user}\"]\nmax_ttl = \"1h\"\napproval = \"auto\"\n");
	EXPECT_EQ(evaluate_both(p, request({Right::read}, {"/srv/logs/u/app.log"}), context).value().verdict, Verdict::issue);
	EXPECT_EQ(evaluate_both(p, request({Right::read}, {"/srv/logs/v/app.log"}), context).value().verdict, Verdict::deny);
	EXPECT_EQ(evaluate_both(p, request({Right::read}, {"/srv/logs/u"}), Context{"/w", "/h", ""}).error().message,
		  "profile \"t\": rule \"own-logs\": {user} is not set for this session");
	EXPECT_EQ(evaluate_both(p, request({Right::read}, {"/srv/logs/u"}), Context{"/w", "/h", ".."}).error().message,
		  "context user \"..\" is not a single path component");
}

TEST(Evaluate, ExpandsPlaceholdersIntoCanonicalPaths)
{
	Profile p = inline_profile("[[grantable]]\nname = \"src\"\nrights = [\"write\"]\npaths = [\"{workspace}/src\"]\n"
				   "max_ttl = \"1h\"\napproval = \"auto\"\n"
				   "[[grantable]]\nname = \"app-socket\"\nrights = [\"connect\"]\n"
				   "endpoints = [\"unix:{workspace}/run/app.sock\"]\nmax_ttl = \"1h\"\napproval = \"auto\"\n");
	// A workspace of "/" must not produce "//src", nor a sloppy one a mismatch.
	EXPECT_EQ(evaluate_both(p, request({Right::write}, {"/src/x"}), Context{"/", "/h", "u"}).value().rule, "src");
	EXPECT_EQ(evaluate_both(p, request({Right::write}, {"/srv/ws/src/x"}), Context{"/srv//ws/", "/h", "u"}).value().rule,
		  "src");
	auto d = evaluate_both(p, request({Right::connect}, {"unix:/srv/ws/run/app.sock"}), Context{"/srv/ws", "/h", "u"});
	EXPECT_EQ(d.value().verdict, Verdict::issue);
	EXPECT_EQ(d.value().rule, "app-socket");
	// A socket is not the path rule's business, nor a path the socket rule's.
	d = evaluate_both(p, request({Right::write}, {"/srv/ws/run/app.sock"}), Context{"/srv/ws", "/h", "u"});
	EXPECT_EQ(d.value().verdict, Verdict::deny);
}

TEST(Evaluate, MeetsAnUnsetPlaceholderOnlyInTheRulesItReads)
{
	// {home} only in the baseline: a request a grantable rule covers is
	// decided without it; one outside the envelope needs the baseline (to
	// say whether it already gives it) and fails.
	Profile p = inline_profile("[[baseline]]\nname = \"cache\"\nrights = [\"read\"]\npaths = [\"{home}/.cache\"]\n"
				   "[[grantable]]\nname = \"src\"\nrights = [\"write\"]\npaths = [\"{workspace}/src\"]\n"
				   "max_ttl = \"1h\"\napproval = \"auto\"\n");
	Context no_home{"/w", "", "u"};
	EXPECT_EQ(evaluate_both(p, request({Right::write}, {"/w/src/x"}), no_home).value().verdict, Verdict::issue);
	auto outside = evaluate_both(p, request({Right::write}, {"/w/README"}), no_home);
	ASSERT_FALSE(outside);
	EXPECT_EQ(outside.error().message, "profile \"t\": rule \"cache\": {home} is not set for this session");
	// One envelope decides many requests.
	auto envelope = Envelope::expand(p, context);
	ASSERT_TRUE(envelope) << envelope.error().message;
	EXPECT_EQ(envelope->evaluate(request({Right::write}, {"/home/u/ws/src/a.c"})).value().verdict, Verdict::issue);
	EXPECT_EQ(envelope->evaluate(request({Right::write}, {"/home/u/ws/b.c"})).value().verdict, Verdict::deny);
	EXPECT_EQ(envelope->evaluate(request({}, {"/home/u/ws/src/a.c"})).error().message, "the request names no rights");
}
