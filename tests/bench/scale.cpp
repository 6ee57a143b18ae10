// Scale (issue 6): grantd's memory and session times at 10,000 sessions ×
// 100 rules, on the host, in real time.
//
// What runs is the daemon's state holder, not the daemon: the real Authority
// with the daemon's settings (a state file, AuthorityOptions::state_path; a
// provenance log written synchronously (O_DSYNC) per append, the default the daemon keeps),
// writing through the real MapsWriter into grantd's real maps, created from
// its BPF object with the sizes its loader gives them (no program loaded:
// the host kernel refuses LSM programs, not maps). Cgroups are made up
// (bench_support.h); the D-Bus layer is not here (the latency boot measures
// its per-session memory: "grantd's memory with many sessions").
//
// The profile's baseline grants read on --rules files, the same files in
// every session: a kernel rule is keyed by (session's cgroup, dev, ino), so N
// sessions × R files are N × R map entries. Steps:
//   1. VmRSS, heap (mallinfo2), open fds before;
//   2. open --sessions sessions through Authority::open_session, and check
//      in the maps that every session's rules are there;
//   3. at that scale: open one more session (median of --samples), issue
//      --grants grants in one more session and close it (revoking them all),
//      VmRSS and heap after, the state and provenance log on disk.
// Prints BENCH-HOST-* lines (JSON) and BENCH-DONE; exits 1, with a
// BENCH-ERROR line, if anything fails or the maps do not hold what was opened,
// and 77 with BENCH-SKIP if the host cannot create the maps (no root or bpffs).
//
//   grantd_bench_scale [--sessions=N] [--rules=N] [--baseline-rules=N] [--grants=N] [--samples=N]
//                      [--state=file|memory]
//
// --state=memory leaves AuthorityOptions::state_path empty (no state file):
// the daemon never runs so, but it separates the state store's cost in time
// and memory from the rest of the authority's.
//
// Needs root (maps, pinning under /sys/fs/bpf) and room for an fd per ruled
// object (the authority's pins: --rules + --grants, whatever --sessions).
#include "audit/provenance_log.h"
#include "authority/authority.h"
#include "bench_support.h"
#include "maps_writer.h"

#include <grantd/policy.h>

#include <bpf/libbpf.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using grantd::authority::Authority;
using grantd::authority::SessionId;

// ctest's SKIP_RETURN_CODE for this binary.
constexpr int kSkipped = 77;

struct Options {
	int sessions = 10'000;
	int rules = 100;         // files the baseline grants read on, per session
	int baseline_rules = 10; // the baseline rules those files are split over
	int grants = 1'000;
	int samples = 5;
	bool state_file = true; // --state=memory: AuthorityOptions::state_path left empty
};

const char kUsage[] = "usage: grantd_bench_scale [--sessions=N] [--rules=N] [--baseline-rules=N] [--grants=N] "
		      "[--samples=N] [--state=file|memory]\n"
		      "  --sessions        sessions opened before measuring (default 10000)\n"
		      "  --rules           baseline file rules per session (default 100)\n"
		      "  --baseline-rules  baseline rules of the profile they are split over (default 10)\n"
		      "  --grants          grants issued in the session whose close is timed (default 1000)\n"
		      "  --samples         sessions opened at scale for the median (default 5)\n"
		      "  --state           file: a state file, as the daemon keeps (default); memory: none\n";

bool parse_int(const std::string& text, int min, int& out)
{
	if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 9)
		return false;
	int v = std::stoi(text);
	if (v < min)
		return false;
	out = v;
	return true;
}

// nullopt (after printing why and the usage) on a bad flag.
std::optional<Options> parse_options(int argc, char** argv)
{
	Options o;
	struct Flag {
		const char* name;
		int* value;
		int min;
	};
	const Flag flags[] = {{"--sessions=", &o.sessions, 1},
			      {"--rules=", &o.rules, 1},
			      {"--baseline-rules=", &o.baseline_rules, 1},
			      {"--grants=", &o.grants, 1},
			      {"--samples=", &o.samples, 1}};
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "-h" || a == "--help") {
			std::fputs(kUsage, stdout);
			std::exit(0);
		}
		if (a == "--state=file" || a == "--state=memory") {
			o.state_file = a == "--state=file";
			continue;
		}
		bool known = false;
		for (const Flag& f : flags) {
			std::string name = f.name;
			if (a.rfind(name, 0) != 0)
				continue;
			known = true;
			if (!parse_int(a.substr(name.size()), f.min, *f.value)) {
				std::fprintf(stderr, "grantd_bench_scale: %s needs a whole number of at least %d, not \"%s\"\n%s",
					     name.substr(0, name.size() - 1).c_str(), f.min, a.substr(name.size()).c_str(),
					     kUsage);
				return std::nullopt;
			}
		}
		if (!known) {
			std::fprintf(stderr, "grantd_bench_scale: unknown argument \"%s\"\n%s", a.c_str(), kUsage);
			return std::nullopt;
		}
	}
	if (o.baseline_rules > o.rules) {
		std::fprintf(stderr, "grantd_bench_scale: --baseline-rules (%d) cannot exceed --rules (%d)\n%s",
			     o.baseline_rules, o.rules, kUsage);
		return std::nullopt;
	}
	return o;
}

// Thrown, not exited on, so that the pinned maps and the scratch directory
// are removed on the way out.
struct Failure {
	std::string what;
	bool skip = false; // the host cannot run it (no root or bpffs): not a failure of grantd
};

[[noreturn]] void fail(const std::string& what)
{
	throw Failure{what};
}

struct Memory {
	long rss_kib = 0;
	long hwm_kib = 0;
	std::size_t heap_bytes = 0;  // in use: malloc'd from arenas + mmapped chunks
	std::size_t arena_bytes = 0; // obtained from the kernel for the arenas
	long fds = 0;
};

long status_kib(const std::string& field)
{
	std::ifstream in("/proc/self/status");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind(field + ":", 0) == 0)
			return std::atol(line.c_str() + field.size() + 1);
	return -1;
}

Memory memory()
{
	Memory m;
	m.rss_kib = status_kib("VmRSS");
	m.hwm_kib = status_kib("VmHWM");
	struct mallinfo2 mi = ::mallinfo2();
	m.heap_bytes = mi.uordblks + mi.hblkhd;
	m.arena_bytes = mi.arena + mi.hblkhd;
	for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
		(void)e;
		m.fds++;
	}
	return m;
}

std::string json(const Memory& m)
{
	std::ostringstream o;
	o << "{\"rss_kib\":" << m.rss_kib << ",\"hwm_kib\":" << m.hwm_kib << ",\"heap_bytes\":" << m.heap_bytes
	  << ",\"arena_bytes\":" << m.arena_bytes << ",\"fds\":" << m.fds << "}";
	return o.str();
}

// The kernel's open-file objects (system-wide: other processes' opens are
// in it too), from /proc/slabinfo; -1 if unreadable.
long long filp_slab_bytes()
{
	std::ifstream in("/proc/slabinfo");
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream s(line);
		std::string name;
		long long active = 0, total = 0, size = 0;
		if (s >> name >> active >> total >> size && name == "filp")
			return active * size;
	}
	return -1;
}

double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

double ms_since(Clock::time_point t0)
{
	return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	std::size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string json_list(const std::vector<double>& v)
{
	std::ostringstream o;
	o << "[";
	for (std::size_t i = 0; i < v.size(); i++)
		o << (i ? "," : "") << v[i];
	o << "]";
	return o.str();
}

std::uintmax_t tree_bytes(const fs::path& dir)
{
	std::uintmax_t total = 0;
	for (const auto& e : fs::recursive_directory_iterator(dir))
		if (e.is_regular_file())
			total += e.file_size();
	return total;
}

std::string profile_text(const Options& o)
{
	std::string t = "name = \"scale\"\ndescription = \"scale benchmark: baseline reads on shared files\"\n"
			"[session]\nmode = \"enforce\"\nmax_duration = \"8h\"\nmax_delegation_depth = 0\n";
	for (int r = 0; r < o.baseline_rules; r++) {
		t += "[[baseline]]\nname = \"files-" + std::to_string(r) + "\"\nrights = [\"read\"]\npaths = [";
		for (int f = r; f < o.rules; f += o.baseline_rules)
			t += std::string(f == r ? "" : ", ") + "\"{workspace}/base/f" + std::to_string(f) + "\"";
		t += "]\n";
	}
	t += "[[grantable]]\nname = \"work\"\nrights = [\"read\", \"write\"]\npaths = [\"{workspace}/work\"]\n"
	     "max_ttl = \"1h\"\napproval = \"auto\"\n"
	     "[[never]]\nname = \"keys\"\npaths = [\"{home}/.ssh\", \"{home}/.gnupg\"]\n";
	return t;
}

// Raises RLIMIT_NOFILE to `needed`, or fails naming what is missing.
void ensure_fds(long long needed)
{
	rlimit lim{};
	::getrlimit(RLIMIT_NOFILE, &lim);
	if (lim.rlim_cur != RLIM_INFINITY && static_cast<long long>(lim.rlim_cur) >= needed)
		return;
	rlimit want = lim;
	want.rlim_cur = static_cast<rlim_t>(needed);
	if (lim.rlim_max != RLIM_INFINITY && static_cast<long long>(lim.rlim_max) < needed)
		want.rlim_max = want.rlim_cur;
	if (::setrlimit(RLIMIT_NOFILE, &want) != 0)
		fail("the authority keeps an O_PATH fd open per ruled object: " + std::to_string(needed) +
		     " fds needed, RLIMIT_NOFILE is " + std::to_string(lim.rlim_cur) + " (hard " +
		     std::to_string(lim.rlim_max) + ") and raising it failed: " + std::strerror(errno) +
		     ". Hint: run as root, or lower --rules and --grants");
}

class Run {
public:
	explicit Run(const Options& o) : o_(o)
	{
		if (!maps_.writer())
			throw Failure{maps_.error(), true};
		ws_ = dir_ / "ws";
		fs::create_directories(ws_ + "/base");
		fs::create_directories(ws_ + "/work");
		for (int f = 0; f < o.rules; f++)
			std::ofstream(ws_ + "/base/f" + std::to_string(f)) << "baseline file\n";
		for (int g = 0; g < o.grants; g++)
			std::ofstream(ws_ + "/work/g" + std::to_string(g)) << "granted file\n";
		for (int f = 0; f < o.rules; f++)
			base_objects_.push_back(object(ws_ + "/base/f" + std::to_string(f)));
		for (int g = 0; g < o.grants; g++)
			work_objects_.push_back(object(ws_ + "/work/g" + std::to_string(g)));

		fs::create_directories(dir_ / "profiles");
		std::ofstream(dir_ / "profiles/scale.toml") << profile_text(o);
		auto profiles = grantd::authority::load_profiles(dir_ / "profiles");
		if (!profiles)
			fail("load the profile: " + profiles.error().message);

		// As the daemon opens it (daemon/main.cpp), minus the journald copy.
		grantd::audit::OpenOptions log_options;
		log_options.truncate_torn_tail = true;
		log_options.durability = grantd::audit::Durability::sync_each_append;
		fs::create_directories(dir_ / "state");
		auto log = grantd::audit::ProvenanceLog::open(dir_ / "state/provenance.log", log_options);
		if (!log)
			fail("open the provenance log: " + log.error().message);
		log_ = std::make_unique<grantd::audit::ProvenanceLog>(std::move(log.value()));

		grantd::authority::AuthorityOptions options;
		if (o.state_file)
			options.state_path = dir_ / "state/state";
		authority_ = std::make_unique<Authority>(
			std::make_unique<grantd::bench::MapsOnlyEnforcer>(*maps_.writer()), "/bench/cgroup",
			std::move(profiles.value()), *log_, std::move(options));
		if (auto restored = authority_->restore(); !restored)
			fail("restore: " + restored.error().message);
	}

	const std::vector<grantd::ObjectId>& base_objects() const { return base_objects_; }
	const std::vector<grantd::ObjectId>& work_objects() const { return work_objects_; }
	grantd::bench::ScratchMaps& maps() { return maps_; }
	Authority& authority() { return *authority_; }
	const grantd::bench::ScratchDir& dir() const { return dir_; }
	std::uintmax_t log_bytes() const { return log_->size(); }

	SessionId open(const std::string& purpose)
	{
		auto s = authority_->open_session("scale", ws_, purpose, ::getuid(), grantd::policy::Mode::enforce);
		if (!s)
			fail("open_session: " + s.error().message);
		if (!s->skipped.empty())
			fail("open_session skipped baseline paths: " + s->skipped.front());
		if (static_cast<int>(s->baseline_grants.size()) != o_.baseline_rules)
			fail("open_session issued " + std::to_string(s->baseline_grants.size()) + " baseline grants, not " +
			     std::to_string(o_.baseline_rules));
		return s->id;
	}

	void issue(SessionId s, int g)
	{
		auto resource = grantd::policy::parse_resource(ws_ + "/work/g" + std::to_string(g));
		if (!resource)
			fail("parse_resource: " + resource.error().message);
		auto d = authority_->request(s, {grantd::policy::Right::read}, {resource.value()}, 10min, "scale",
					     grantd::audit::Requester{1, 0, 1});
		if (!d)
			fail("request: " + d.error().message);
		if (d->verdict != grantd::policy::Verdict::issue)
			fail("request not issued: " + d->reason);
	}

	void close(SessionId s)
	{
		if (auto closed = authority_->close_session(s, "scale benchmark"); !closed)
			fail("close_session: " + closed.error().message);
	}

	// How many of the objects have a rule of the session in the maps.
	int rules_in_maps(SessionId s, const std::vector<grantd::ObjectId>& objects)
	{
		int n = 0;
		for (const auto& object : objects) {
			auto rule = maps_.writer()->file_rule(s, object);
			if (!rule)
				fail("look up a file rule: " + rule.error().message);
			n += rule->has_value() ? 1 : 0;
		}
		return n;
	}

private:
	static grantd::ObjectId object(const std::string& path)
	{
		auto id = grantd::object_id(path);
		if (!id)
			fail(id.error().message);
		return id.value();
	}

	Options o_;
	grantd::bench::ScratchMaps maps_;
	grantd::bench::ScratchDir dir_;
	std::string ws_;
	std::vector<grantd::ObjectId> base_objects_, work_objects_;
	std::unique_ptr<grantd::audit::ProvenanceLog> log_;
	std::unique_ptr<Authority> authority_;
};

int run(const Options& o)
{
	const long long entries_needed = static_cast<long long>(o.sessions + 1) * o.rules + o.grants;
	// One pin per object, whatever the number of sessions (an authority that
	// pinned per session and object would fail here with EMFILE).
	ensure_fds(o.rules + o.grants + 1024);
	Run r(o);
	const std::uint32_t max_file_rules = r.maps().max_entries("file_rules");
	const std::uint32_t max_sessions = r.maps().max_entries("sessions");
	if (entries_needed > max_file_rules || o.sessions + 1 > static_cast<long long>(max_sessions))
		fail("the maps hold " + std::to_string(max_file_rules) + " file rules and " + std::to_string(max_sessions) +
		     " sessions; this run needs " + std::to_string(entries_needed) + " and " +
		     std::to_string(o.sessions + 1));
	std::printf("BENCH-HOST-CONFIG {\"sessions\":%d,\"rules\":%d,\"baseline_rules\":%d,\"grants\":%d,"
		    "\"samples\":%d,\"max_file_rules\":%u,\"max_sessions\":%u,\"durability\":\"O_DSYNC\","
		    "\"state_file\":%s}\n",
		    o.sessions, o.rules, o.baseline_rules, o.grants, o.samples, max_file_rules, max_sessions,
		    o.state_file ? "true" : "false");
	std::fflush(stdout);

	const Memory before = memory();
	const long long filp_before = filp_slab_bytes();

	// The fill, with a checkpoint at every tenth: does opening slow down as
	// the state grows?
	std::vector<SessionId> opened;
	opened.reserve(o.sessions);
	const int step = std::max(1, o.sessions / 10);
	std::string checkpoints;
	const auto fill_start = Clock::now();
	auto since_checkpoint = fill_start;
	for (int i = 0; i < o.sessions; i++) {
		opened.push_back(r.open("scale " + std::to_string(i)));
		if ((i + 1) % step == 0 || i + 1 == o.sessions) {
			int in_step = (i + 1) % step == 0 ? step : (i + 1) % step;
			double each_ms = ms_since(since_checkpoint) / in_step;
			Memory m = memory();
			char buf[200];
			std::snprintf(buf, sizeof buf, "%s{\"sessions\":%d,\"seconds\":%.2f,\"open_each_ms\":%.3f,\"rss_kib\":%ld}",
				      checkpoints.empty() ? "" : ",", i + 1, seconds_since(fill_start), each_ms, m.rss_kib);
			checkpoints += buf;
			std::fprintf(stderr, "scale: %d sessions, %.1f s, %.3f ms per open lately, VmRSS %ld KiB\n", i + 1,
				     seconds_since(fill_start), each_ms, m.rss_kib);
			since_checkpoint = Clock::now();
		}
	}
	const double fill_seconds = seconds_since(fill_start);
	const Memory after = memory();
	const long long filp_after = filp_slab_bytes();

	// The rules really are there: every object for the first and the last
	// session, and the map's entry count for all of them.
	for (SessionId s : {opened.front(), opened.back()}) {
		int n = r.rules_in_maps(s, r.base_objects());
		if (n != o.rules)
			fail("session " + std::to_string(s) + " has " + std::to_string(n) + " of its " +
			     std::to_string(o.rules) + " rules in the maps");
	}
	auto keys = r.maps().writer()->file_rules();
	if (!keys)
		fail("list the file rules: " + keys.error().message);
	const long long in_maps = static_cast<long long>(keys->size());
	const std::uint64_t first_cgroup = r.authority().session(opened.front())->cgroup_id;
	const long long of_first = std::count_if(keys->begin(), keys->end(),
						 [&](const grantd_file_key& k) { return k.cgroup_id == first_cgroup; });
	keys->clear();
	keys->shrink_to_fit();
	if (in_maps != static_cast<long long>(o.sessions) * o.rules || of_first != o.rules)
		fail("the file_rules map holds " + std::to_string(in_maps) + " entries (" + std::to_string(of_first) +
		     " of session " + std::to_string(opened.front()) + "), not " +
		     std::to_string(static_cast<long long>(o.sessions) * o.rules));
	auto sessions_in_maps = r.maps().writer()->sessions();
	if (!sessions_in_maps || static_cast<int>(sessions_in_maps->size()) != o.sessions)
		fail("the sessions map does not hold the " + std::to_string(o.sessions) + " sessions");

	std::printf("BENCH-HOST-FILL {\"sessions\":%d,\"seconds\":%.2f,\"open_each_ms\":%.3f,"
		    "\"file_rules_in_maps\":%lld,\"file_rules_of_one_session\":%lld,\"checkpoints\":[%s]}\n",
		    o.sessions, fill_seconds, fill_seconds * 1e3 / o.sessions, in_maps, of_first, checkpoints.c_str());
	std::printf("BENCH-HOST-MEMORY {\"before\":%s,\"after\":%s,\"filp_slab_bytes_before\":%lld,"
		    "\"filp_slab_bytes_after\":%lld}\n",
		    json(before).c_str(), json(after).c_str(), filp_before, filp_after);
	std::fflush(stdout);

	// One more session at that scale, opened and closed --samples times.
	std::vector<double> open_ms, close_ms;
	for (int i = 0; i < o.samples; i++) {
		auto t0 = Clock::now();
		SessionId s = r.open("scale sample " + std::to_string(i));
		open_ms.push_back(ms_since(t0));
		if (int n = r.rules_in_maps(s, r.base_objects()); n != o.rules)
			fail("the sampled session has " + std::to_string(n) + " of its rules in the maps");
		t0 = Clock::now();
		r.close(s);
		close_ms.push_back(ms_since(t0));
		if (int n = r.rules_in_maps(s, r.base_objects()); n != 0)
			fail("the closed sampled session left " + std::to_string(n) + " rules in the maps");
	}
	std::printf("BENCH-HOST-OPEN {\"at_sessions\":%d,\"rules\":%d,\"open_ms\":%s,\"open_median_ms\":%.3f,"
		    "\"close_ms\":%s,\"close_median_ms\":%.3f}\n",
		    o.sessions, o.rules, json_list(open_ms).c_str(), median(open_ms), json_list(close_ms).c_str(),
		    median(close_ms));
	std::fflush(stdout);

	// One more session with --grants grants, then closed: every grant
	// revoked, its rules removed from the maps, the revocations recorded.
	SessionId g = r.open("scale grants");
	auto t0 = Clock::now();
	for (int i = 0; i < o.grants; i++)
		r.issue(g, i);
	const double issue_seconds = seconds_since(t0);
	if (int n = r.rules_in_maps(g, r.work_objects()); n != o.grants)
		fail("the session has " + std::to_string(n) + " of its " + std::to_string(o.grants) +
		     " granted rules in the maps");
	const Memory with_grants = memory();

	// The daemon's sweep timer is set from the earliest deadline of the
	// live grants, after every dispatch. It was found
	// by copying every grant (Authority::grants(), after every dispatch);
	// next_deadline() reads the first of the deadlines the authority keeps
	// in order. Both here, at this scale, and they must agree.
	std::vector<double> copy_ms, kept_ms;
	std::size_t live_grants = 0;
	for (int i = 0; i < o.samples; i++) {
		t0 = Clock::now();
		auto all = r.authority().grants();
		std::uint64_t by_copy = GRANTD_NO_DEADLINE;
		for (const auto& info : all)
			if (info.deadline_boot_ns && info.deadline_boot_ns < by_copy)
				by_copy = info.deadline_boot_ns;
		copy_ms.push_back(ms_since(t0));
		live_grants = all.size();
		all.clear();
		t0 = Clock::now();
		std::uint64_t kept = r.authority().next_deadline();
		kept_ms.push_back(ms_since(t0));
		if (kept != by_copy || kept == GRANTD_NO_DEADLINE)
			fail("next_deadline() is " + std::to_string(kept) + ", the grants' earliest deadline " +
			     std::to_string(by_copy));
	}
	std::printf("BENCH-HOST-DEADLINE {\"grants\":%zu,\"copy_median_ms\":%.3f,\"kept_median_ms\":%.4f}\n",
		    live_grants, median(copy_ms), median(kept_ms));

	t0 = Clock::now();
	r.close(g);
	const double close_grants_ms = ms_since(t0);
	const int left = r.rules_in_maps(g, r.work_objects()) + r.rules_in_maps(g, r.base_objects());
	if (left != 0)
		fail("closing the session left " + std::to_string(left) + " of its rules in the maps");
	std::printf("BENCH-HOST-GRANTS {\"at_sessions\":%d,\"grants\":%d,\"issue_seconds\":%.3f,"
		    "\"issue_each_ms\":%.3f,\"close_ms\":%.3f,\"rules_left\":%d,\"with_grants\":%s}\n",
		    o.sessions, o.grants, issue_seconds, issue_seconds * 1e3 / o.grants, close_grants_ms, left,
		    json(with_grants).c_str());

	std::uintmax_t state_bytes = 0;
	std::string state_files;
	for (const auto& e : fs::directory_iterator(r.dir().path() / "state")) {
		if (!e.is_regular_file() || e.path().filename() == "provenance.log")
			continue;
		state_bytes += e.file_size();
		state_files += std::string(state_files.empty() ? "" : ",") + "\"" + e.path().filename().string() + "\"";
	}
	std::printf("BENCH-HOST-DISK {\"state_bytes\":%ju,\"state_files\":[%s],\"provenance_log_bytes\":%ju,"
		    "\"all_bytes\":%ju}\n",
		    state_bytes, state_files.c_str(), r.log_bytes(), tree_bytes(r.dir().path() / "state"));
	std::printf("BENCH-DONE\n");
	std::fflush(stdout);
	return 0;
}

} // namespace

int main(int argc, char** argv)
{
	auto options = parse_options(argc, argv);
	if (!options)
		return 2;
	libbpf_set_print(nullptr);
	try {
		return run(*options);
	} catch (const Failure& f) {
		std::printf("%s %s\n", f.skip ? "BENCH-SKIP" : "BENCH-ERROR", f.what.c_str());
		return f.skip ? kSkipped : 1;
	}
}
