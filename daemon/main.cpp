// grantd: the Trust Authority daemon. This file is its edge: options, logging,
// the main loop. The work is done by the daemon library (loader, maps writer,
// events) so that tests drive the same code.
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
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  --runtime-dir DIR   lock file location (default /run/grantd)
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

Readiness is reported with sd_notify(READY=1) once the programs are attached
and the governed root is set. Decisions are logged to standard error, one
line of key=value pairs per event.
)";

struct Options {
	std::string cgroup_root;
	std::string pin_dir = GRANTD_PIN_DIR_DEFAULT;
	std::string runtime_dir = "/run/grantd";
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
	enum { kCgroupRoot = 256, kPinDir, kRuntimeDir, kReportAllows, kEventRate, kCheck, kRemovePins, kVersion };
	static const option longopts[] = {
		{"cgroup-root", required_argument, nullptr, kCgroupRoot},
		{"pin-dir", required_argument, nullptr, kPinDir},
		{"runtime-dir", required_argument, nullptr, kRuntimeDir},
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
	for (const std::string* dir : {&o.cgroup_root, &o.pin_dir, &o.runtime_dir})
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

int run(Options& o)
{
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
	if (auto set = maps->set_root(root->first, root->second,
				      o.report_allows ? GRANTD_CONFIG_REPORT_ALLOWS : 0, o.event_rate);
	    !set) {
		log("Failed to set the governed root: " + set.error().message);
		return 1;
	}
	log("governing cgroup " + o.cgroup_root + " (id " + std::to_string(root->first) + ", level " +
	    std::to_string(root->second) + ")");

	auto events = grantd::EventReader::open(maps->events_fd(), [](const grantd_event& e) {
		std::fprintf(stderr, "grantd: event %s\n", grantd::format_event(e).c_str());
	});
	if (!events) {
		log("Failed to open events: " + events.error().message);
		return 1;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	grantd::UniqueFd sfd(::signalfd(-1, &mask, SFD_CLOEXEC));
	grantd::UniqueFd epfd(::epoll_create1(EPOLL_CLOEXEC));
	if (!sfd.valid() || !epfd.valid()) {
		log(std::string("Failed to set up the main loop: ") + std::strerror(errno));
		return 1;
	}
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.fd = sfd.get();
	::epoll_ctl(epfd.get(), EPOLL_CTL_ADD, sfd.get(), &ev);
	ev.data.fd = events->fd();
	::epoll_ctl(epfd.get(), EPOLL_CTL_ADD, events->fd(), &ev);

	sd_notify(0, "READY=1\nSTATUS=enforcing");
	log("ready");
	for (;;) {
		epoll_event ready[4];
		int n = ::epoll_wait(epfd.get(), ready, 4, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log(std::string("Failed to wait for events: ") + std::strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (ready[i].data.fd == sfd.get()) {
				signalfd_siginfo si{};
				if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
					sd_notify(0, "STOPPING=1");
					(void)events->consume();
					log(std::string("stopping on ") + strsignal(static_cast<int>(si.ssi_signo)) +
					    "; pinned programs keep enforcing");
					return 0;
				}
			} else if (auto consumed = events->consume(); !consumed) {
				log("Failed to read events: " + consumed.error().message);
			}
		}
	}
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
