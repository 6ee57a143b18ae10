// Userspace micro-benchmarks (issue 6): what the daemon spends per request.
//   BM_Evaluate      policy::evaluate against envelopes of 10/100/1000 rules
//   BM_IssueGrant    Authority::request up to an issued grant: policy, path
//                    resolution, the kernel rule written into real BPF maps,
//                    and its provenance records (page cache / O_DSYNC writes)
//   BM_ProvenanceAppend  one record: encoding, SHA-256 chain, write (and sync)
//   BM_PeerPing      a D-Bus Peer.Ping round trip between two sd-bus peers on
//                    a socketpair, as on a session channel: the reference the
//                    grant latency is compared with, here without emulation
//   BM_CloseSession  Authority::close_session of a session with 1,000 grants
//   BM_RemoveSession MapsWriter::remove_session of a session with 1,000 rules
//                    among 100,000 rules of other sessions: naming its rules
//                    (what the authority does) or scanning for them (restore)
//
// The maps are real: created from grantd's own BPF object with no program
// loaded (the host kernel refuses LSM programs, not maps), pinned in a scratch
// directory and opened as the daemon's writer opens them. Without root or
// bpffs BM_IssueGrant reports why and skips.
#include "audit/provenance_log.h"
#include "authority/authority.h"
#include "bench_support.h"
#include "maps_writer.h"

#include <grantd/policy.h>

#include <benchmark/benchmark.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using grantd::policy::Right;
using grantd::bench::MapsOnlyEnforcer;
using grantd::bench::ScratchDir;
using grantd::bench::ScratchMaps;

// A profile whose envelope has `rules` grantable rules, one directory each,
// and a few never rules, as a real profile would.
std::string profile_text(int rules)
{
	std::string t = "name = \"bench\"\ndescription = \"benchmark envelope\"\n[session]\nmode = \"enforce\"\nmax_duration = \"8h\"\n"
			"max_delegation_depth = 0\n";
	for (int i = 0; i < rules; i++)
		t += "[[grantable]]\nname = \"dir-" + std::to_string(i) + "\"\nrights = [\"read\", \"write\", \"create\"]\n"
		     "paths = [\"{workspace}/d" + std::to_string(i) + "\"]\nmax_ttl = \"1h\"\napproval = \"auto\"\n";
	t += "[[never]]\nname = \"hooks\"\npaths = [\"{workspace}/.git/hooks\"]\n"
	     "[[never]]\nname = \"keys\"\npaths = [\"{home}/.ssh\", \"{home}/.gnupg\"]\n"
	     "[[never]]\nname = \"docker\"\npaths = [\"/run/docker.sock\"]\n";
	return t;
}

grantd::policy::Profile make_profile(int rules)
{
	auto p = grantd::policy::parse_profile(profile_text(rules), "bench.toml");
	if (!p)
		throw std::runtime_error(p.error().message);
	return p.value();
}

// The request matches the last rule: the evaluator looks at every rule.
// BM_Evaluate fills in the session's placeholders on every request (the
// one-call policy::evaluate); BM_EvaluateEnvelope matches against the
// envelope expanded once, as the daemon does for each session.
grantd::policy::Request evaluate_request(int rules)
{
	grantd::policy::Request request;
	request.rights = {Right::read, Right::write};
	request.resources.push_back({grantd::policy::ResourceKind::path,
				     "/srv/ws/d" + std::to_string(rules - 1) + "/src/parser/lexer.c", {}, 0});
	request.ttl = 10min;
	request.purpose = "fix the parser";
	return request;
}

void BM_EvaluateEnvelope(benchmark::State& state)
{
	int rules = static_cast<int>(state.range(0));
	auto profile = make_profile(rules);
	auto envelope = grantd::policy::Envelope::expand(profile, {"/srv/ws", "/home/agent", "agent"});
	if (!envelope) {
		state.SkipWithError(envelope.error().message.c_str());
		return;
	}
	auto request = evaluate_request(rules);
	for (auto _ : state) {
		auto d = envelope->evaluate(request);
		if (!d || d->verdict != grantd::policy::Verdict::issue) {
			state.SkipWithError("request not issued");
			break;
		}
		benchmark::DoNotOptimize(d);
	}
}
BENCHMARK(BM_EvaluateEnvelope)->Arg(10)->Arg(100)->Arg(1000);

void BM_Evaluate(benchmark::State& state)
{
	int rules = static_cast<int>(state.range(0));
	auto profile = make_profile(rules);
	grantd::policy::Context context{"/srv/ws", "/home/agent", "agent"};
	auto request = evaluate_request(rules);
	for (auto _ : state) {
		auto d = grantd::policy::evaluate(profile, request, context);
		if (!d || d->verdict != grantd::policy::Verdict::issue) {
			state.SkipWithError("request not issued");
			break;
		}
		benchmark::DoNotOptimize(d);
	}
}
BENCHMARK(BM_Evaluate)->Arg(10)->Arg(100)->Arg(1000);

// An authority over real maps, a workspace with `files` files under the
// directory the last grantable rule names, and a provenance log.
class Bench {
public:
	static constexpr int kRules = 100;

	// state: the authority keeps its state file in the scratch directory,
	// as the daemon does (--state-dir); otherwise in memory only.
	Bench(benchmark::State& state, bool sync, int files = 1, bool state_file = false)
	{
		if (!maps_.writer()) {
			error_ = maps_.error();
			return;
		}
		ws_ = dir_ / "ws";
		std::string leaf = ws_ + "/d" + std::to_string(kRules - 1) + "/src";
		fs::create_directories(leaf);
		for (int i = 0; i < files; i++)
			std::ofstream(leaf + "/f" + std::to_string(i) + ".c") << "int f(void);\n";
		fs::create_directories(dir_ / "profiles");
		std::ofstream(dir_ / "profiles/bench.toml") << profile_text(kRules);
		auto profiles = grantd::authority::load_profiles(dir_ / "profiles");
		if (!profiles) {
			error_ = profiles.error().message;
			return;
		}
		grantd::audit::OpenOptions options;
		options.durability =
			sync ? grantd::audit::Durability::sync_each_append : grantd::audit::Durability::page_cache;
		auto log = grantd::audit::ProvenanceLog::open(dir_ / "provenance.log", options);
		if (!log) {
			error_ = log.error().message;
			return;
		}
		log_ = std::make_unique<grantd::audit::ProvenanceLog>(std::move(log.value()));
		grantd::authority::AuthorityOptions ao;
		if (state_file)
			ao.state_path = dir_ / "state";
		authority_ = std::make_unique<grantd::authority::Authority>(
			std::make_unique<MapsOnlyEnforcer>(*maps_.writer()), "/bench/cgroup", std::move(profiles.value()),
			*log_, std::move(ao));
		(void)state;
	}
	bool ok(benchmark::State& state) const
	{
		if (!error_.empty())
			state.SkipWithError(error_.c_str());
		return error_.empty();
	}
	grantd::authority::Authority& authority() { return *authority_; }
	std::optional<grantd::authority::SessionId> open(benchmark::State& state)
	{
		auto s = authority_->open_session("bench", ws_, "benchmark", ::getuid(), grantd::policy::Mode::enforce);
		if (!s) {
			state.SkipWithError(s.error().message.c_str());
			return std::nullopt;
		}
		return s->id;
	}
	grantd::policy::Resource file(int i) const
	{
		return grantd::policy::parse_resource(ws_ + "/d" + std::to_string(kRules - 1) + "/src/f" +
						      std::to_string(i) + ".c")
			.value();
	}
	std::optional<grantd::authority::GrantId> issue(benchmark::State& state, grantd::authority::SessionId s, int i)
	{
		auto d = authority_->request(s, {Right::read, Right::write}, {file(i)}, 10min, "fix the lexer",
					     grantd::audit::Requester{1, 0, 1});
		if (!d || d->verdict != grantd::policy::Verdict::issue) {
			state.SkipWithError(d ? d->reason.c_str() : d.error().message.c_str());
			return std::nullopt;
		}
		return d->grant_id;
	}

private:
	ScratchMaps maps_;
	ScratchDir dir_;
	std::string ws_;
	std::string error_;
	std::unique_ptr<grantd::audit::ProvenanceLog> log_;
	std::unique_ptr<grantd::authority::Authority> authority_;
};

// Issue (and, outside the timing, revoke) one grant on a file in a session
// whose profile has 100 grantable rules. sync: 0 page cache, 1 synchronous writes (O_DSYNC).
// state: 1 with the state file the daemon keeps (each iteration adds a
// request outcome to it, up to the 1,000 kept), 0 without.
void BM_IssueGrant(benchmark::State& state)
{
	Bench b(state, state.range(0) != 0, 1, state.range(1) != 0);
	if (!b.ok(state))
		return;
	auto session = b.open(state);
	if (!session)
		return;
	for (auto _ : state) {
		auto grant = b.issue(state, *session, 0);
		if (!grant)
			break;
		state.PauseTiming();
		auto revoked = b.authority().revoke(*grant, 0, "benchmark");
		state.ResumeTiming();
		if (!revoked) {
			state.SkipWithError(revoked.error().message.c_str());
			break;
		}
	}
}
BENCHMARK(BM_IssueGrant)->Args({0, 0})->Args({1, 0})->Args({1, 1})->ArgNames({"sync", "state"});

// Opening a session (no baseline rules: the session's cgroup and map entry
// and its provenance record), closed outside the timing. Page cache.
void BM_OpenSession(benchmark::State& state)
{
	Bench b(state, false);
	if (!b.ok(state))
		return;
	for (auto _ : state) {
		auto s = b.open(state);
		if (!s)
			break;
		state.PauseTiming();
		auto closed = b.authority().close_session(*s, "benchmark");
		state.ResumeTiming();
		if (!closed) {
			state.SkipWithError(closed.error().message.c_str());
			break;
		}
	}
}
BENCHMARK(BM_OpenSession);

// Closing a session that holds 1,000 grants on 1,000 files (issued outside
// the timing): every rule removed from the kernel, the revocations recorded.
void BM_CloseSession(benchmark::State& state)
{
	int grants = static_cast<int>(state.range(0));
	Bench b(state, false, grants);
	if (!b.ok(state))
		return;
	for (auto _ : state) {
		state.PauseTiming();
		auto s = b.open(state);
		for (int i = 0; s && i < grants; i++)
			if (!b.issue(state, *s, i))
				s.reset();
		state.ResumeTiming();
		if (!s)
			break;
		auto closed = b.authority().close_session(*s, "benchmark");
		if (!closed) {
			state.SkipWithError(closed.error().message.c_str());
			break;
		}
	}
}
BENCHMARK(BM_CloseSession)->Arg(1000)->ArgName("grants")->Iterations(1)->Unit(benchmark::kMillisecond);

// Removing one session's 1,000 rules from maps that also hold 1,000 other
// sessions × 100 rules (filled once, outside the timing). Arg scan: 0 names
// the session's rules (the authority closing a session), 1 scans the rule
// maps for them (restore's cleanup, and every close before the authority
// named them).
void BM_RemoveSession(benchmark::State& state)
{
	constexpr std::uint32_t kOthers = 1000, kOtherRules = 100, kRules = 1000, kDev = 0xfff00;
	constexpr std::uint64_t kCgroup = 1ull << 40;
	const bool scan = state.range(0) != 0;
	ScratchMaps maps;
	grantd::MapsWriter* w = maps.writer();
	if (!w) {
		state.SkipWithError(maps.error().c_str());
		return;
	}
	const auto rule = grantd::make_file_rule(1u << GRANTD_RIGHT_READ, GRANTD_NO_DEADLINE);
	auto fill = [&](std::uint32_t s, std::uint32_t rules, grantd::SessionRules* named) {
		if (!w->add_session(kCgroup + s, s + 1))
			return false;
		for (std::uint32_t j = 0; j < rules; j++) {
			grantd::ObjectId o{kDev, std::uint64_t{s} * 100'000 + j + 1};
			if (!w->put_file_rule(s + 1, o, rule))
				return false;
			if (named)
				named->files.push_back(o);
		}
		return true;
	};
	for (std::uint32_t s = 0; s < kOthers; s++)
		if (!fill(s, kOtherRules, nullptr)) {
			state.SkipWithError("filling the maps failed");
			return;
		}
	for (auto _ : state) {
		state.PauseTiming();
		grantd::SessionRules named;
		bool filled = fill(kOthers, kRules, &named);
		state.ResumeTiming();
		if (!filled) {
			state.SkipWithError("filling the session failed");
			break;
		}
		auto removed = scan ? w->remove_session(kCgroup + kOthers) : w->remove_session(kCgroup + kOthers, named);
		if (!removed) {
			state.SkipWithError(removed.error().message.c_str());
			break;
		}
	}
}
BENCHMARK(BM_RemoveSession)->Arg(0)->Arg(1)->ArgName("scan")->Iterations(3)->Unit(benchmark::kMillisecond);

// Arg: 0 page cache, 1 synchronous writes (O_DSYNC).
void BM_ProvenanceAppend(benchmark::State& state)
{
	ScratchDir dir;
	grantd::audit::OpenOptions options;
	options.durability =
		state.range(0) ? grantd::audit::Durability::sync_each_append : grantd::audit::Durability::page_cache;
	auto log = grantd::audit::ProvenanceLog::open(dir / "provenance.log", options);
	if (!log) {
		state.SkipWithError(log.error().message.c_str());
		return;
	}
	grantd::audit::Request body;
	body.session_id = 7;
	body.requester = {1234, 1000, 42};
	body.rights = 3;
	body.resources = {"/srv/ws/src/parser/lexer.c", "/srv/ws/src/parser/lexer.h"};
	body.ttl_ns = 600'000'000'000ull;
	body.purpose = "fix the off-by-one in the lexer's number scanner";
	for (auto _ : state) {
		body.request_id++;
		auto r = log->append(body);
		if (!r) {
			state.SkipWithError(r.error().message.c_str());
			break;
		}
	}
	state.SetBytesProcessed(static_cast<std::int64_t>(log->size()));
}
BENCHMARK(BM_ProvenanceAppend)->Arg(0)->Arg(1)->ArgName("sync");

// One sd-bus connection on fd, as a server (the daemon's side of a session
// channel: anonymous, its own server id) or as the client; nullptr on error.
sd_bus* peer(int fd, bool server, std::string& error)
{
	sd_bus* b = nullptr;
	int r = sd_bus_new(&b);
	if (r >= 0)
		r = sd_bus_set_fd(b, fd, fd);
	if (r >= 0 && server) {
		sd_id128_t id{};
		(void)sd_id128_randomize(&id);
		r = sd_bus_set_server(b, 1, id);
		if (r >= 0)
			r = sd_bus_set_anonymous(b, 1);
	}
	if (r >= 0)
		r = sd_bus_start(b);
	if (r < 0) {
		error = std::string("sd-bus ") + (server ? "server" : "client") + ": " + std::strerror(-r);
		sd_bus_unref(b);
		return nullptr;
	}
	return b;
}

// org.freedesktop.DBus.Peer.Ping from a client to a server peer (sd-bus
// answers it itself) served by its own thread: the round trip a grant
// request's reply is compared with in the grant-latency run.
void BM_PeerPing(benchmark::State& state)
{
	int fds[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		state.SkipWithError("socketpair failed");
		return;
	}
	std::atomic<bool> stop{false};
	std::string server_error;
	std::thread server([&] {
		sd_bus* b = peer(fds[1], true, server_error);
		if (!b) {
			::close(fds[1]);
			return;
		}
		while (!stop.load()) {
			int r = sd_bus_process(b, nullptr);
			if (r < 0)
				break;
			if (r == 0)
				(void)sd_bus_wait(b, 100000);
		}
		sd_bus_flush_close_unref(b);
	});
	std::string error;
	sd_bus* client = peer(fds[0], false, error);
	for (auto _ : state) {
		if (!client)
			break;
		sd_bus_error e = SD_BUS_ERROR_NULL;
		int r = sd_bus_call_method(client, nullptr, "/", "org.freedesktop.DBus.Peer", "Ping", &e, nullptr, "");
		if (r < 0) {
			error = std::string("Ping: ") + (e.message ? e.message : std::strerror(-r));
			sd_bus_error_free(&e);
			break;
		}
	}
	if (client)
		sd_bus_flush_close_unref(client);
	else
		::close(fds[0]);
	stop = true;
	server.join();
	if (!error.empty() || !server_error.empty())
		state.SkipWithError((error + server_error).c_str());
}
BENCHMARK(BM_PeerPing);

} // namespace

int main(int argc, char** argv)
{
	libbpf_set_print(nullptr);
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
