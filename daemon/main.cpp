// grantd: the Trust Authority daemon. This file is its edge: options, logging,
// the main loop. The work is done by the daemon library (loader, maps writer,
// events) so that tests drive the same code.
#include "audit/journal.h"
#include "audit/provenance_log.h"
#include "authority/authority.h"
#include "bus/service.h"
#include "cgroup.h"
#include "events.h"
#include "kernel_probe.h"
#include "loader.h"
#include "maps_writer.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace {

constexpr const char* kUsage = R"(Usage: grantd [OPTIONS]

The grantd Trust Authority. Loads grantd's BPF LSM programs, pins them under
the pin directory and governs every task in the cgroup subtree below the
cgroup root: a governed task may open, create, delete, rename, link, change,
run or map a file, connect, send or bind, only while a live grant for its
session covers the object; it may never use bpf(), trace or signal tasks
outside its session, mount, create user namespaces, write to cgroupfs or
load modules. A task in a cgroup below the root that is not a registered
session is denied everything grantd gates. docs/enforcement.md lists each
hook and the right it needs.

Sessions and grants are asked for over D-Bus (name org.grantd1, see
docs/dbus.md): administrators open sessions and approve or revoke grants,
agents request grants within their session's profile, auditors read. Each
session also gets a peer-to-peer channel, <runtime-dir>/session/<id>/bus, so
its agent needs no access to the system bus. Every request, decision, grant,
revocation, expiry and kernel denial is appended to a hash-chained
provenance log in the state directory and sent to journald.

Before anything else grantd checks that this kernel can enforce (BPF LSM
active, BTF, cgroup v2, bpffs, and a real load and attach of an LSM program).
If it cannot, grantd names what is missing, says how to fix it, and exits 1;
it never runs without enforcing.

Pinned programs outlive the daemon: stopping grantd, or killing it, leaves
enforcement in place, and the next grantd adopts the pinned maps (rules,
sessions, counters) when their ABI version matches its own.

Options:
  --cgroup-root DIR   cgroup v2 directory under which sessions live
                      (default: <cgroup2 mount>/grantd; created if missing;
                      grantd itself must not run inside it)
  --pin-dir DIR       where maps and links are pinned (default /sys/fs/bpf/grantd)
  --runtime-dir DIR   lock file and session channels (default /run/grantd)
  --profiles-dir DIR  profiles, one NAME.toml per profile (default
                      /etc/grantd/profiles.d). An invalid profile stops
                      grantd from starting; a missing directory means no
                      session can be opened.
  --state-dir DIR     where grantd keeps what must survive a restart
                      (default /var/lib/grantd; created if missing): the
                      sessions, grants and pending requests (a snapshot,
                      state, and the changes since, state.journal), the
                      provenance log (provenance.log) and the head of its
                      chain (provenance.head). A restarted grantd restores
                      them before it serves. A state file, journal or log
                      that cannot be read or does not verify stops grantd
                      from starting (the pinned maps keep enforcing
                      meanwhile). A final log record torn by a crash is
                      cut off and reported; a final journal record torn by
                      a crash was never acknowledged and is left out.
  --admin-group NAME  members of this group (and root) are administrators
                      unless they are governed (default grantd-admin).
                      Members of grantd-audit are auditors.
  --bus BUS           where to serve org.grantd1: "system" (default), "none"
                      (session channels only), or a D-Bus address such as
                      unix:path=/run/test-bus (a private dbus-daemon).
                      If the bus goes away grantd reconnects to it for up
                      to 30 s (session channels keep working), then exits 1
  --kernel-only       load, pin and report only: no authority, no bus, no
                      channels, no state or provenance log. Sessions and rules
                      are whatever the pinned maps hold (tests of the kernel
                      side write them directly).
  --report-allows     also report allowed decisions of governed tasks
  --event-rate N      report at most N decisions per session per second
                      (default 1000; 0: no limit). Decisions over the limit
                      are counted, and the next reported one says how many
                      were suppressed before it.
  --check             only check whether this kernel can enforce, print each
                      check, and exit 0 (it can) or 1 (it cannot)
  --remove-pins       detach grantd's programs and remove everything pinned
                      under the pin directory, then exit. Governed tasks are
                      no longer confined afterwards. Refused while grantd runs.
  -h, --help          show this help
  --version           show the version

Exit status: 0 on success or orderly stop (SIGTERM, SIGINT), 1 when grantd
cannot enforce or fails, 2 on bad usage.

Readiness is reported with sd_notify(READY=1) once the programs are attached,
the governed root is set and the bus name is acquired. Decisions are logged
to standard error, one line of key=value pairs per event, and denials are
also the AccessDenied signal. Decisions the kernel could not report because
the event ring buffer was full are counted; grantd logs each increase ("lost
N kernel decision events") and records it in the provenance log.
)";

struct Options {
	std::string cgroup_root;
	std::string pin_dir = GRANTD_PIN_DIR_DEFAULT;
	std::string runtime_dir = "/run/grantd";
	std::string profiles_dir = "/etc/grantd/profiles.d";
	std::string state_dir = "/var/lib/grantd";
	std::string admin_group = "grantd-admin";
	std::string bus = "system";
	bool kernel_only = false;
	bool report_allows = false;
	std::uint32_t event_rate = 1000;
	bool check = false;
	bool remove_pins = false;
};

void log(const std::string& line)
{
	std::fprintf(stderr, "grantd: %s\n", line.c_str());
	std::fflush(stderr);
}

int usage_error(const std::string& message)
{
	std::fprintf(stderr, "grantd: %s\nTry 'grantd --help' for more information.\n", message.c_str());
	return 2;
}

// Parses argv; returns -1 to continue, or an exit status.
int parse(int argc, char** argv, Options& o)
{
	enum {
		kCgroupRoot = 256,
		kPinDir,
		kRuntimeDir,
		kProfilesDir,
		kStateDir,
		kAdminGroup,
		kBus,
		kKernelOnly,
		kReportAllows,
		kEventRate,
		kCheck,
		kRemovePins,
		kVersion
	};
	static const option longopts[] = {
		{"cgroup-root", required_argument, nullptr, kCgroupRoot},
		{"pin-dir", required_argument, nullptr, kPinDir},
		{"runtime-dir", required_argument, nullptr, kRuntimeDir},
		{"profiles-dir", required_argument, nullptr, kProfilesDir},
		{"state-dir", required_argument, nullptr, kStateDir},
		{"admin-group", required_argument, nullptr, kAdminGroup},
		{"bus", required_argument, nullptr, kBus},
		{"kernel-only", no_argument, nullptr, kKernelOnly},
		{"report-allows", no_argument, nullptr, kReportAllows},
		{"event-rate", required_argument, nullptr, kEventRate},
		{"check", no_argument, nullptr, kCheck},
		{"remove-pins", no_argument, nullptr, kRemovePins},
		{"help", no_argument, nullptr, 'h'},
		{"version", no_argument, nullptr, kVersion},
		{nullptr, 0, nullptr, 0},
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":h", longopts, nullptr)) != -1) {
		switch (c) {
		case kCgroupRoot:
			o.cgroup_root = optarg;
			break;
		case kPinDir:
			o.pin_dir = optarg;
			break;
		case kRuntimeDir:
			o.runtime_dir = optarg;
			break;
		case kProfilesDir:
			o.profiles_dir = optarg;
			break;
		case kStateDir:
			o.state_dir = optarg;
			break;
		case kAdminGroup:
			if (!*optarg)
				return usage_error("--admin-group needs a group name");
			o.admin_group = optarg;
			break;
		case kBus:
			if (!*optarg)
				return usage_error("--bus needs \"system\", \"none\" or a D-Bus address");
			o.bus = optarg;
			break;
		case kKernelOnly:
			o.kernel_only = true;
			break;
		case kReportAllows:
			o.report_allows = true;
			break;
		case kEventRate: {
			char* end = nullptr;
			errno = 0;
			unsigned long n = std::strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || n > 1000000 || optarg[0] == '-')
				return usage_error(std::string("--event-rate '") + optarg +
						   "' is not a number of events per second (0-1000000)");
			o.event_rate = static_cast<std::uint32_t>(n);
			break;
		}
		case kCheck:
			o.check = true;
			break;
		case kRemovePins:
			o.remove_pins = true;
			break;
		case 'h':
			std::fputs(kUsage, stdout);
			return 0;
		case kVersion:
			std::printf("grantd %s (ABI %u)\n", GRANTD_VERSION, GRANTD_ABI_VERSION);
			return 0;
		case ':':
			return usage_error(std::string("option '") + argv[optind - 1] + "' needs a value");
		default:
			return usage_error(std::string("unknown option '") + argv[optind - 1] + "'");
		}
	}
	if (optind < argc)
		return usage_error(std::string("unexpected argument '") + argv[optind] + "'");
	if (o.check && o.remove_pins)
		return usage_error("--check and --remove-pins exclude each other");
	for (const std::string* dir : {&o.cgroup_root, &o.pin_dir, &o.runtime_dir, &o.profiles_dir, &o.state_dir})
		if (!dir->empty() && (*dir)[0] != '/')
			return usage_error("'" + *dir + "' is not an absolute path");
	return -1;
}

// Held for the daemon's lifetime; --remove-pins refuses while it is held.
grantd::Result<grantd::UniqueFd> take_lock(const std::string& runtime_dir)
{
	if (::mkdir(runtime_dir.c_str(), 0755) != 0 && errno != EEXIST)
		return grantd::Error::from_errno("create " + runtime_dir);
	std::string path = runtime_dir + "/grantd.lock";
	grantd::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	if (!fd.valid())
		return grantd::Error::from_errno("open " + path);
	if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return grantd::Error{"another grantd is running (it holds " + path + ")"};
		return grantd::Error::from_errno("lock " + path);
	}
	return fd;
}

int check(const Options& o)
{
	std::vector<std::string> passed;
	auto failure = grantd::probe_kernel({.bpffs = "/sys/fs/bpf"}, &passed);
	for (const auto& line : passed)
		std::printf("ok: %s\n", line.c_str());
	if (failure) {
		std::fprintf(stderr, "%s\n", grantd::describe(*failure).c_str());
		return 1;
	}
	std::printf("grantd can enforce on this kernel\n");
	(void)o;
	return 0;
}

int remove_pins(const Options& o)
{
	auto lock = take_lock(o.runtime_dir);
	if (!lock) {
		log("Refusing to remove pins: " + lock.error().message + "; stop it first");
		return 1;
	}
	auto removed = grantd::remove_pins(o.pin_dir);
	if (!removed) {
		log("Failed to remove pins: " + removed.error().message);
		return 1;
	}
	for (const auto& path : removed.value())
		std::printf("removed %s\n", path.c_str());
	std::printf(removed->empty() ? "nothing pinned under %s\n"
				     : "grantd's programs are detached; nothing is enforced (%s)\n",
		    o.pin_dir.c_str());
	return 0;
}

// Prepares the governed root; returns its (id, level).
grantd::Result<std::pair<std::uint64_t, std::uint32_t>> setup_cgroup_root(Options& o)
{
	auto mount = grantd::find_cgroup2_mount();
	if (!mount)
		return mount.error();
	if (o.cgroup_root.empty())
		o.cgroup_root = mount.value() + "/grantd";
	auto own = grantd::cgroup_of(mount.value(), 0);
	if (!own)
		return own.error();
	if (grantd::cgroup_within(own.value(), o.cgroup_root))
		return grantd::Error{"grantd runs in " + own.value() + ", inside the cgroup root " +
				     o.cgroup_root + " it would govern; start it outside"};
	if (auto made = grantd::make_cgroup(o.cgroup_root); !made)
		return made.error();
	auto id = grantd::cgroup_id(o.cgroup_root);
	if (!id)
		return id.error();
	auto level = grantd::cgroup_level(mount.value(), o.cgroup_root);
	if (!level)
		return level.error();
	return std::pair{id.value(), level.value()};
}

// Creates the directory and its missing parents.
grantd::Result<void> make_dirs(const std::string& path, mode_t mode)
{
	for (std::size_t i = 1; i <= path.size(); i++) {
		if (i < path.size() && path[i] != '/')
			continue;
		std::string part = path.substr(0, i);
		if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST)
			return grantd::Error::from_errno("create " + part);
	}
	return {};
}

grantd::Result<std::optional<grantd::audit::Head>> read_head(const std::string& path)
{
	std::ifstream in(path);
	if (!in) {
		if (errno == ENOENT)
			return std::optional<grantd::audit::Head>{};
		return grantd::Error::from_errno("read " + path);
	}
	std::string text;
	std::getline(in, text);
	auto head = grantd::audit::parse_head(text);
	if (!head)
		return head.error().context(path);
	return std::optional<grantd::audit::Head>{head.value()};
}

// Written after every append; a crash between the two leaves a head the
// log continues past, which verification accepts.
void write_head(const std::string& path, const grantd::audit::Head& head)
{
	// Plain system calls, no stream: this runs after every dispatch that
	// appended, and an ofstream costs about 4,000 more instructions a write.
	std::string tmp = path + ".tmp";
	std::string line = grantd::audit::format_head(head) + "\n";
	grantd::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
	if (!fd.valid() || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
		return;
	fd.reset();
	(void)::rename(tmp.c_str(), path.c_str());
}

struct EventUnref {
	void operator()(sd_event* e) const { sd_event_unref(e); }
};
struct BusUnref {
	void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct SourceUnref {
	void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};

grantd::Result<sd_bus*> connect_bus(const std::string& which)
{
	sd_bus* bus = nullptr;
	int r = 0;
	if (which == "system") {
		r = sd_bus_open_system_with_description(&bus, "grantd");
	} else {
		r = sd_bus_new(&bus);
		if (r >= 0)
			r = sd_bus_set_address(bus, which.c_str());
		if (r >= 0)
			r = sd_bus_set_bus_client(bus, 1);
		if (r >= 0)
			r = sd_bus_start(bus);
		if (r < 0 && bus) {
			sd_bus_unref(bus);
			bus = nullptr;
		}
	}
	if (r < 0)
		return grantd::Error::from_errno("connect to the bus " + which, -r);
	return bus;
}

struct Loop {
	int signo = 0;
	bool bus_lost = false;
};

// How long grantd keeps trying to reach a bus that went away before it
// gives up and exits 1 for the service manager to restart it.
constexpr std::uint64_t kReconnectForUsec = 30'000'000;
constexpr std::uint64_t kFirstRetryUsec = 100'000, kMaxRetryUsec = 2'000'000;

// The connection to the system bus (or --bus ADDRESS). When it is lost
// (dbus-daemon restarted), grantd keeps running: enforcement and the session
// channels are unaffected, the objects leave the dead connection, and it
// reconnects with backoff, moves the objects to the new connection and asks
// for org.grantd1 again. Clients' matches and WaitRequest calls lived on the
// old connection and are gone with it. The hang-up is watched on a
// duplicate of the connection's socket: sd-bus only reports the disconnect
// when something else wakes its event source.
struct SystemBus {
	std::string address;
	sd_event* event = nullptr;
	Loop* loop = nullptr;
	grantd::bus::Service* service = nullptr;
	std::unique_ptr<sd_bus, BusUnref> bus;
	grantd::UniqueFd watch;
	std::unique_ptr<sd_event_source, SourceUnref> watch_source, retry_timer;
	std::uint64_t lost_at_usec = 0, retry_usec = 0;
	unsigned attempts = 0;

	grantd::Result<void> connect()
	{
		auto connected = connect_bus(address);
		if (!connected)
			return connected.error();
		bus.reset(connected.value());
		if (int r = sd_bus_attach_event(bus.get(), event, SD_EVENT_PRIORITY_NORMAL); r < 0) {
			drop();
			return grantd::Error::from_errno("attach the bus", -r);
		}
		watch = grantd::UniqueFd(::fcntl(sd_bus_get_fd(bus.get()), F_DUPFD_CLOEXEC, 3));
		sd_event_source* raw = nullptr;
		if (!watch.valid()) {
			drop();
			return grantd::Error::from_errno("watch the bus connection");
		}
		if (int r = sd_event_add_io(event, &raw, watch.get(), EPOLLRDHUP, on_hangup, this); r < 0) {
			drop();
			return grantd::Error::from_errno("watch the bus connection", -r);
		}
		watch_source.reset(raw);
		return {};
	}

	// The objects on this connection, and the name.
	grantd::Result<void> serve()
	{
		if (service)
			if (auto set = service->set_bus(bus.get()); !set)
				return set.error();
		if (int r = sd_bus_request_name(bus.get(), "org.grantd1", 0); r < 0)
			return grantd::Error::from_errno("acquire the bus name org.grantd1", -r);
		return {};
	}

	void drop()
	{
		if (service)
			(void)service->set_bus(nullptr);
		watch_source.reset();
		watch = grantd::UniqueFd();
		if (bus) {
			sd_bus_close(bus.get());
			bus.reset();
		}
	}

	static int on_hangup(sd_event_source*, int, std::uint32_t, void* ud)
	{
		auto* self = static_cast<SystemBus*>(ud);
		self->drop();
		log("Lost the connection to the bus " + self->address +
		    "; reconnecting (session channels and enforcement are unaffected)");
		sd_event_now(self->event, CLOCK_MONOTONIC, &self->lost_at_usec);
		self->attempts = 0;
		self->retry_usec = kFirstRetryUsec;
		self->arm(self->lost_at_usec + self->retry_usec);
		return 0;
	}

	void arm(std::uint64_t at)
	{
		if (!retry_timer) {
			sd_event_source* raw = nullptr;
			if (int r = sd_event_add_time(event, &raw, CLOCK_MONOTONIC, at, 0, on_retry, this); r < 0) {
				log(std::string("Failed to arm the bus reconnect timer: ") + std::strerror(-r) +
				    "; exiting so that the service manager restarts grantd (pinned programs keep enforcing)");
				loop->bus_lost = true;
				sd_event_exit(event, 1);
				return;
			}
			retry_timer.reset(raw);
		} else {
			sd_event_source_set_time(retry_timer.get(), at);
		}
		sd_event_source_set_enabled(retry_timer.get(), SD_EVENT_ONESHOT);
	}

	static int on_retry(sd_event_source*, std::uint64_t now, void* ud)
	{
		auto* self = static_cast<SystemBus*>(ud);
		self->attempts++;
		auto done = self->connect();
		if (done)
			done = self->serve();
		if (done) {
			log("reconnected to the bus " + self->address + " after " +
			    std::to_string((now - self->lost_at_usec) / 1000) + " ms (" + std::to_string(self->attempts) +
			    " attempts); serving org.grantd1 again");
			return 0;
		}
		self->drop();
		if (now - self->lost_at_usec >= kReconnectForUsec) {
			log("Failed to reconnect to the bus " + self->address + " for " +
			    std::to_string(kReconnectForUsec / 1000000) + " s (" + std::to_string(self->attempts) +
			    " attempts; last: " + done.error().message +
			    "); exiting so that the service manager restarts grantd (pinned programs keep enforcing)");
			self->loop->bus_lost = true;
			return sd_event_exit(self->event, 1);
		}
		self->retry_usec = std::min(self->retry_usec * 2, kMaxRetryUsec);
		self->arm(now + self->retry_usec);
		return 0;
	}
};

int on_signal(sd_event_source* s, const signalfd_siginfo* si, void* ud)
{
	static_cast<Loop*>(ud)->signo = static_cast<int>(si->ssi_signo);
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

// The authority holds an O_PATH fd per object a rule names (so that its
// inode number cannot be reused): the soft limit on open files, 1,024 by
// default under systemd, goes up to the hard limit (524,288 by default).
// grantd waits with epoll, never select(), so a high limit is safe.
void raise_fd_limit()
{
	rlimit l{};
	if (::getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
		l.rlim_cur = l.rlim_max;
		if (::setrlimit(RLIMIT_NOFILE, &l) != 0)
			log(std::string("Failed to raise the open-file limit to its hard limit: ") + std::strerror(errno) +
			    " (the number of objects rules can name is limited to it)");
	}
}

int run(Options& o)
{
	raise_fd_limit();
	if (auto failure = grantd::probe_kernel({.bpffs = "/sys/fs/bpf"})) {
		std::fprintf(stderr, "%s\n", grantd::describe(*failure).c_str());
		return 1;
	}
	auto lock = take_lock(o.runtime_dir);
	if (!lock) {
		log("Failed to start: " + lock.error().message);
		return 1;
	}
	auto root = setup_cgroup_root(o);
	if (!root) {
		log("Failed to set up the cgroup root: " + root.error().message);
		return 1;
	}
	auto cgroup_mount = grantd::find_cgroup2_mount();
	if (!cgroup_mount) {
		log("Failed to find cgroup2: " + cgroup_mount.error().message);
		return 1;
	}

	std::map<std::string, grantd::policy::Profile> profiles;
	if (o.kernel_only) {
	} else if (::access(o.profiles_dir.c_str(), F_OK) != 0) {
		log("no profile directory " + o.profiles_dir + "; no session can be opened until one exists and grantd restarts");
	} else {
		auto loaded = grantd::authority::load_profiles(o.profiles_dir);
		if (!loaded) {
			log("Failed to load profiles: " + loaded.error().message);
			return 1;
		}
		profiles = std::move(loaded.value());
		for (const auto& [name, profile] : profiles)
			log("profile " + name + " loaded from " + o.profiles_dir);
	}

	std::string log_path, head_path;
	bool journal_failed = false;
	// Stored once per main loop iteration (see head_writer below), not per record.
	bool head_dirty = false;
	// Journald's copies of the records appended during a dispatch, sent
	// after it (head_writer below): a reply is not held up by them. The
	// provenance log, written and synced before the reply, is the record.
	std::vector<grantd::audit::Record> to_journal;
	auto send_journal_copies = [&] {
		for (const auto& record : to_journal)
			if (auto sent = grantd::audit::send_to_journal(record); !sent && !journal_failed) {
				journal_failed = true;
				log("Failed to send provenance records to journald (not logged again): " + sent.error().message);
			}
		to_journal.clear();
	};
	// Whichever way main() returns, no copy is left unsent.
	struct JournalFlush {
		std::function<void()> flush;
		~JournalFlush() { flush(); }
	} journal_flush{send_journal_copies};
	std::optional<grantd::audit::ProvenanceLog> provenance;
	if (!o.kernel_only) {
		if (auto made = make_dirs(o.state_dir, 0750); !made) {
			log("Failed to create the state directory: " + made.error().message);
			return 1;
		}
		log_path = o.state_dir + "/provenance.log";
		head_path = o.state_dir + "/provenance.head";
		auto stored_head = read_head(head_path);
		if (!stored_head) {
			log("Failed to read the provenance head: " + stored_head.error().message);
			return 1;
		}
		grantd::audit::OpenOptions log_options;
		log_options.truncate_torn_tail = true;
		log_options.expected_head = stored_head.value();
		log_options.on_append = [&](const grantd::audit::Record& record) {
			head_dirty = true;
			to_journal.push_back(record);
		};
		auto opened_log = grantd::audit::ProvenanceLog::open(log_path, log_options);
		if (!opened_log) {
			log("Failed to open the provenance log: " + opened_log.error().message);
			return 1;
		}
		provenance.emplace(std::move(opened_log.value()));
		if (provenance->repair())
			log("provenance log " + log_path + ": cut off a torn final record at offset " +
			    std::to_string(provenance->repair()->offset) + " (" + std::to_string(provenance->repair()->bytes_removed) +
			    " bytes): " + provenance->repair()->what);
		write_head(head_path, provenance->head());
	}

	auto loader = grantd::Loader::load({.pin_dir = o.pin_dir});
	if (!loader) {
		log("Failed to load BPF programs: " + loader.error().message);
		return 1;
	}
	log(std::string(loader->adopted() ? "adopted pinned maps in " : "pinned new maps in ") + o.pin_dir);
	for (const auto& line : loader->program_stats())
		log("program " + line);

	auto maps = grantd::MapsWriter::from_loader(loader.value());
	if (!maps) {
		log("Failed to open maps: " + maps.error().message);
		return 1;
	}
	auto previous = maps->config();
	if (previous && previous->root_cgroup_id && previous->root_cgroup_id != root->first)
		log("governed root changed from cgroup " + std::to_string(previous->root_cgroup_id) + " to " +
		    std::to_string(root->first) + "; sessions of the old root are no longer governed");
	grantd::UniqueFd root_dir(::open(o.cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!root_dir.valid()) {
		log("Failed to open the governed root " + o.cgroup_root + ": " + std::strerror(errno));
		return 1;
	}
	if (auto set = maps->set_root(root_dir.get(), root->first, root->second,
				      o.report_allows ? GRANTD_CONFIG_REPORT_ALLOWS : 0, o.event_rate);
	    !set) {
		log("Failed to set the governed root: " + set.error().message);
		return 1;
	}
	log("governing cgroup " + o.cgroup_root + " (id " + std::to_string(root->first) + ", level " +
	    std::to_string(root->second) + ")");

	grantd::bus::Service* service_ptr = nullptr;
	std::unique_ptr<grantd::authority::Authority> authority;
	if (!o.kernel_only) {
		grantd::authority::AuthorityOptions authority_options;
		authority_options.state_path = o.state_dir + "/state";
		authority_options.on_change = [&service_ptr](const grantd::authority::Change& change) {
			if (service_ptr)
				service_ptr->on_change(change);
		};
		authority = std::make_unique<grantd::authority::Authority>(maps.value(), o.cgroup_root, profiles,
									   *provenance, authority_options);
		auto restored = authority->restore();
		if (!restored) {
			log("Failed to restore sessions and grants: " + restored.error().message +
			    " (the pinned maps keep enforcing what they hold)");
			return 1;
		}
		if (restored->fresh)
			log("no saved state in " + authority_options.state_path + ": starting with no sessions");
		else
			log("restored " + std::to_string(restored->sessions) + " sessions, " + std::to_string(restored->grants) +
			    " grants, " + std::to_string(restored->pending) + " pending requests; " +
			    std::to_string(restored->expired) + " grants expired while grantd was down, " +
			    std::to_string(restored->stale_entries) + " stale kernel entries removed");
		for (const auto& line : restored->dropped)
			log("dropped on restore: " + line);

	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	sd_event* raw_event = nullptr;
	if (int r = sd_event_new(&raw_event); r < 0) {
		log(std::string("Failed to set up the main loop: ") + std::strerror(-r));
		return 1;
	}
	std::unique_ptr<sd_event, EventUnref> event(raw_event);
	Loop loop;
	sd_event_add_signal(event.get(), nullptr, SIGTERM, on_signal, &loop);
	sd_event_add_signal(event.get(), nullptr, SIGINT, on_signal, &loop);

	SystemBus system_bus;
	system_bus.address = o.bus;
	system_bus.event = event.get();
	system_bus.loop = &loop;
	if (o.bus != "none" && !o.kernel_only) {
		if (auto connected = system_bus.connect(); !connected) {
			log("Failed to connect to the bus: " + connected.error().message +
			    " (use --bus none to serve session channels only)");
			return 1;
		}
	}

	std::unique_ptr<grantd::bus::Service> service;
	if (authority) {
		grantd::bus::ServiceOptions service_options;
		service_options.runtime_dir = o.runtime_dir;
		service_options.cgroup_mount = cgroup_mount.value();
		service_options.cgroup_root = o.cgroup_root;
		service_options.admin_group = o.admin_group;
		service_options.profiles = profiles;
		service_options.log = log;
		auto created = grantd::bus::Service::create(event.get(), system_bus.bus.get(), *authority, *provenance,
							    std::move(service_options));
		if (!created) {
			log("Failed to set up the D-Bus service: " + created.error().message);
			return 1;
		}
		service = std::move(created.value());

	}

	// Kernel decisions: logged one line each, appended to the provenance log
	// one batch per wakeup, denials signalled.
	std::vector<grantd::audit::Body> batch;
	grantd::bus::Service* svc = service.get();
	service_ptr = svc;
	bool record = provenance.has_value();
	auto events = grantd::EventReader::open(maps->events_fd(), [&batch, svc, record](const grantd_event& e) {
		std::fprintf(stderr, "grantd: event %s\n", grantd::format_event(e).c_str());
		if (record)
			batch.push_back(grantd::audit::kernel_decision(e));
		if (svc)
			svc->kernel_event(e);
	});
	if (!events) {
		log("Failed to open events: " + events.error().message);
		return 1;
	}
	// Decisions the kernel could not put in the full ring are counted per hook
	// (lost_events); every increase is logged and recorded after the
	// decisions delivered with it, so that a gap in the record is stated.
	// Losses from before this start are in the count seen here.
	auto lost_total = [&maps]() -> grantd::Result<std::uint64_t> {
		auto all = maps->all_counters();
		if (!all)
			return all.error();
		std::uint64_t sum = 0;
		for (const grantd_counter& c : all.value())
			sum += c.lost_events;
		return sum;
	};
	auto lost_at_start = lost_total();
	if (!lost_at_start) {
		log("Failed to read the kernel's event counters: " + lost_at_start.error().message);
		return 1;
	}
	std::uint64_t lost_seen = lost_at_start.value();
	if (lost_seen)
		log("the kernel counted " + std::to_string(lost_seen) +
		    " lost events (ring buffer full) before this start");
	bool lost_read_failed = false;
	// The counters are read (one copy of every hook's per-CPU counters)
	// only when the ring may have been full since they were last read
	// (EventReader::may_have_lost_since), at least once a second while
	// events come (newer kernels' ring locks can fail a reservation on a
	// ring that is not full), and when grantd stops.
	std::uint64_t consumed_at_check = events->consumed_bytes();
	auto checked_at = std::chrono::steady_clock::now();
	auto drain = [&](bool stopping) {
		if (auto consumed = events->consume(); !consumed)
			log("Failed to read events: " + consumed.error().message);
		auto now = std::chrono::steady_clock::now();
		if (stopping || events->may_have_lost_since(consumed_at_check) || now - checked_at >= std::chrono::seconds(1)) {
			if (auto total = lost_total(); !total) {
				if (!lost_read_failed)
					log("Failed to read the kernel's lost-event counters (not logged again): " +
					    total.error().message);
				lost_read_failed = true;
			} else {
				consumed_at_check = events->consumed_bytes();
				checked_at = now;
				if (total.value() > lost_seen) {
					std::uint64_t lost = total.value() - lost_seen;
					lost_seen = total.value();
					log("lost " + std::to_string(lost) + " kernel decision events: the ring buffer was full (" +
					    std::to_string(lost_seen) + " lost in total)");
					if (record)
						batch.push_back(grantd::audit::EventsLost{lost, lost_seen});
				}
			}
		}
		if (batch.empty())
			return;
		if (auto appended = provenance->append(std::move(batch)); !appended)
			log("Failed to record kernel decisions: " + appended.error().message);
		batch.clear();
	};
	struct Drain {
		std::function<void(bool)> fn;
	} drainer{drain};
	sd_event_source* raw_src = nullptr;
	if (int r = sd_event_add_io(
		    event.get(), &raw_src, events->fd(), EPOLLIN,
		    [](sd_event_source*, int, std::uint32_t, void* ud) {
			    static_cast<Drain*>(ud)->fn(false);
			    return 0;
		    },
		    &drainer);
	    r < 0) {
		log(std::string("Failed to watch events: ") + std::strerror(-r));
		return 1;
	}
	std::unique_ptr<sd_event_source, SourceUnref> events_source(raw_src);

	struct HeadWriter {
		bool* dirty;
		std::function<void()> write;
	} head_writer{&head_dirty, [&] {
		send_journal_copies();
		write_head(head_path, provenance->head());
	}};
	auto write_dirty_head = [](sd_event_source*, void* ud) {
		auto* w = static_cast<HeadWriter*>(ud);
		if (*w->dirty) {
			*w->dirty = false;
			w->write();
		}
		return 0;
	};
	if (int r = sd_event_add_post(event.get(), &raw_src, write_dirty_head, &head_writer); r < 0) {
		log(std::string("Failed to watch the provenance head: ") + std::strerror(-r));
		return 1;
	}
	std::unique_ptr<sd_event_source, SourceUnref> head_source(raw_src);

	system_bus.service = service.get();
	if (system_bus.bus) {
		if (int r = sd_bus_request_name(system_bus.bus.get(), "org.grantd1", 0); r < 0) {
			log(std::string("Failed to acquire the bus name org.grantd1: ") + std::strerror(-r));
			return 1;
		}
		log("serving org.grantd1 on " + o.bus + " bus");
	}

	sd_notify(0, "READY=1\nSTATUS=enforcing");
	log("ready");
	if (int r = sd_event_loop(event.get()); r < 0) {
		log(std::string("Failed to run the main loop: ") + std::strerror(-r));
		return 1;
	}
	sd_notify(0, "STOPPING=1");
	drain(true);
	write_dirty_head(nullptr, &head_writer);
	if (loop.bus_lost)
		return 1;
	log(std::string("stopping on ") + strsignal(loop.signo) + "; pinned programs keep enforcing");
	return 0;
}

} // namespace

int main(int argc, char** argv)
{
	Options o;
	if (int status = parse(argc, argv, o); status >= 0)
		return status;
	if (o.check)
		return check(o);
	if (o.remove_pins)
		return remove_pins(o);
	return run(o);
}
