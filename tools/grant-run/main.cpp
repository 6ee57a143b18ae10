// grant-run: runs a command as a governed agent. Opens a session over D-Bus,
// starts the command in the session's cgroup (admitted before it runs any
// code of its own), confined behind the LSM by no_new_privs, no capabilities
// and a seccomp baseline, forwards signals to it, closes the session once it
// and every process it started have exited, and exits with its status.
#include "bus.h"
#include "confine.h"

#include <grantd/policy.h>

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace grantd::tools;

constexpr int kExitRunFailed = 125; // grant-run itself failed; CMD did not run
constexpr int kExitCannotExec = 126;
constexpr int kExitNotFound = 127;

constexpr const char* kUsage = R"(Usage: grant-run --profile NAME [OPTIONS] -- COMMAND [ARGS...]

Runs COMMAND as an agent governed by grantd. grant-run opens a session with
the profile NAME (grantd's Manager.OpenSession), starts COMMAND in the
session's cgroup, and closes the session when COMMAND and every process it
started have exited.

COMMAND never runs ungoverned: grant-run forks a child that waits until
grantd has moved it into the session's cgroup (Manager.AdmitProcess), checks
/proc/self/cgroup, and only then confines itself and executes COMMAND:
  - no_new_privs is set: set-uid programs and file capabilities gain nothing;
  - every capability is dropped: effective, permitted, inheritable, ambient
    and, when grant-run may (it holds CAP_SETPCAP, e.g. as root), the
    bounding set, with the securebits that stop uid 0 regaining any;
  - a seccomp filter answers EPERM (never a kill, so the failure is plain)
    to mount, umount2, move_mount, fsopen, fsmount, fsconfig, fspick,
    open_tree, mount_setattr, pivot_root, bpf, perf_event_open, ptrace,
    process_vm_readv, process_vm_writev, kexec_load, kexec_file_load,
    init_module, finit_module, delete_module, keyctl, add_key, request_key,
    setns, userfaultfd, and clone/unshare with any namespace flag
    (CLONE_NEWUSER, NEWNS, NEWPID, NEWNET, NEWUTS, NEWIPC, NEWCGROUP,
    NEWTIME); clone3 gets ENOSYS so that libc falls back to clone.
These are defence in depth: grantd's LSM programs already deny a governed
task the same operations.

COMMAND runs in the workspace directory with, in its environment:
  GRANTD_BUS_ADDRESS=unix:path=/run/grantd/session/ID/bus
                     the session's own channel to grantd (grantctl request
                     uses it; the system bus is not needed and the shipped
                     profiles withhold it)
  GRANTD_SESSION=ID  the session id

Options:
  --profile NAME      the profile in /etc/grantd/profiles.d/NAME.toml (required)
  --workspace DIR     the working tree that fills {workspace} in the profile;
                      an existing directory (default: the current directory)
  --purpose TEXT      why the agent runs, recorded with the session
                      (default: "grant-run COMMAND")
  --mode MODE         enforce (deny what no grant allows) or permissive (only
                      report it); default: the profile's
  --ttl DURATION      the session's longest life, e.g. 30m, 1h30m, 2d; at most
                      the profile's max_duration (default: that)
  --bus ADDRESS       talk to grantd on this D-Bus address instead of the
                      system bus (also $GRANTD_SYSTEM_BUS_ADDRESS), e.g.
                      unix:path=/run/test/system_bus_socket
  -v, --verbose       say which session was opened and what was applied
  -h, --help          show this help
  --version           show the version

The session lives as long as the process tree: grant-run is the subreaper
of COMMAND's descendants, and when COMMAND exits while processes it started
still run (a background job, a daemon it spawned), grant-run says so on
standard error and waits for them before it closes the session and exits
with COMMAND's status. They stay governed meanwhile.

Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to grant-run are passed on
to COMMAND, or once COMMAND has exited to every process left of its tree.
Those the terminal sends reach the processes in its foreground group
directly and are not sent twice.

Exit status:
  COMMAND's own    when COMMAND ran: its exit status, or 128+N if a signal
                   N killed it (137 for SIGKILL); what its descendants
                   exit with is not reported
  2                bad usage, an unknown profile, or an argument grantd
                   rejected (one line on standard error says which)
  125              grant-run failed before COMMAND ran: grantd unreachable,
                   the session refused (e.g. not an administrator), the
                   process could not be admitted or confined
  126              COMMAND could not be executed (e.g. denied by grantd)
  127              COMMAND was not found

Examples:
  grant-run --profile coding-agent --workspace ~/src/app -- make test
  grant-run --profile coding-agent --ttl 2h --purpose "fix issue 42" -- agent-cli
)";

struct Options {
	std::string profile;
	std::string workspace;
	std::string purpose;
	std::string mode;
	std::string ttl;
	std::string bus;
	bool verbose = false;
	std::vector<char*> command;
};

int usage_error(const std::string& message)
{
	std::fprintf(stderr, "grant-run: %s (see grant-run --help)\n", message.c_str());
	return kExitUsage;
}

int fail(const std::string& message, int status = kExitRunFailed)
{
	std::fprintf(stderr, "grant-run: %s\n", message.c_str());
	return status;
}

int parse(int argc, char** argv, Options& o)
{
	enum { kProfile = 256, kWorkspace, kPurpose, kMode, kTtl, kBus, kVersion };
	static const option longopts[] = {
		{"profile", required_argument, nullptr, kProfile},
		{"workspace", required_argument, nullptr, kWorkspace},
		{"purpose", required_argument, nullptr, kPurpose},
		{"mode", required_argument, nullptr, kMode},
		{"ttl", required_argument, nullptr, kTtl},
		{"bus", required_argument, nullptr, kBus},
		{"verbose", no_argument, nullptr, 'v'},
		{"help", no_argument, nullptr, 'h'},
		{"version", no_argument, nullptr, kVersion},
		{nullptr, 0, nullptr, 0},
	};
	opterr = 0;
	int c;
	// '+': options end at the first non-option, so COMMAND's own options
	// are never taken for grant-run's.
	while ((c = getopt_long(argc, argv, "+:hv", longopts, nullptr)) != -1) {
		switch (c) {
		case kProfile: o.profile = optarg; break;
		case kWorkspace: o.workspace = optarg; break;
		case kPurpose: o.purpose = optarg; break;
		case kMode: o.mode = optarg; break;
		case kTtl: o.ttl = optarg; break;
		case kBus: o.bus = optarg; break;
		case 'v': o.verbose = true; break;
		case 'h': std::fputs(kUsage, stdout); return kExitOk;
		case kVersion: std::printf("grant-run %s\n", GRANTD_VERSION); return kExitOk;
		case ':': return usage_error(std::string("option '") + argv[optind - 1] + "' needs a value");
		default: return usage_error(std::string("unknown option '") + argv[optind - 1] + "'");
		}
	}
	bool dashdash = optind > 1 && std::strcmp(argv[optind - 1], "--") == 0;
	if (optind >= argc)
		return usage_error(dashdash ? "no command after '--'" : "missing '-- COMMAND [ARGS...]'");
	if (!dashdash)
		return usage_error(std::string("missing '--' before the command '") + argv[optind] + "'");
	if (o.profile.empty())
		return usage_error("--profile NAME is required");
	if (o.profile.find('/') != std::string::npos || o.profile[0] == '.')
		return usage_error("'" + o.profile + "' is not a profile name (a file name in /etc/grantd/profiles.d without .toml)");
	if (!o.mode.empty() && o.mode != "enforce" && o.mode != "permissive")
		return usage_error("--mode '" + o.mode + "' is neither enforce nor permissive");
	if (!o.ttl.empty())
		if (auto d = grantd::policy::parse_duration(o.ttl); !d)
			return usage_error("--ttl: " + d.error().message);
	if (o.workspace.empty())
		o.workspace = ".";
	char resolved[PATH_MAX];
	struct stat st{};
	if (!realpath(o.workspace.c_str(), resolved) || stat(resolved, &st) != 0)
		return usage_error("--workspace '" + o.workspace + "': " + std::strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return usage_error("--workspace '" + o.workspace + "' is not a directory");
	o.workspace = resolved;
	for (int i = optind; i < argc; i++)
		o.command.push_back(argv[i]);
	o.command.push_back(nullptr);
	if (o.purpose.empty()) {
		o.purpose = "grant-run";
		for (int i = optind; i < argc && o.purpose.size() < 200; i++)
			o.purpose += std::string(" ") + argv[i];
	}
	return -1;
}

struct Session {
	std::uint32_t id = 0;
	std::string cgroup;
	std::string channel;
	std::vector<std::string> skipped; // baseline paths grantd did not apply
};

grantd::Result<Session> open_session(Client& client, const Options& o)
{
	auto reply = client.manager("OpenSession", [&](sd_bus_message* m) {
		int r = sd_bus_message_append(m, "sss", o.profile.c_str(), o.workspace.c_str(), o.purpose.c_str());
		if (r >= 0)
			r = sd_bus_message_open_container(m, 'a', "{sv}");
		if (r >= 0 && !o.mode.empty())
			r = sd_bus_message_append(m, "{sv}", "mode", "s", o.mode.c_str());
		if (r >= 0 && !o.ttl.empty())
			r = sd_bus_message_append(m, "{sv}", "ttl", "s", o.ttl.c_str());
		if (r >= 0)
			r = sd_bus_message_close_container(m);
		return r;
	});
	if (!reply)
		return reply.error();
	Session s;
	const char *path = nullptr, *cgroup = nullptr, *channel = nullptr;
	sd_bus_message* m = reply->get();
	int r = sd_bus_message_read(m, "uoss", &s.id, &path, &cgroup, &channel);
	if (r < 0)
		return grantd::tools::bad_reply("OpenSession", r);
	s.cgroup = cgroup;
	s.channel = channel;
	char** skipped = nullptr;
	r = sd_bus_message_read_strv(m, &skipped);
	if (r < 0)
		return grantd::tools::bad_reply("OpenSession", r);
	for (char** p = skipped; p && *p; p++) {
		s.skipped.emplace_back(*p);
		std::free(*p);
	}
	std::free(skipped);
	return s;
}

// The cgroup2 mount point, from /proc/self/mountinfo.
std::string cgroup2_mount()
{
	std::ifstream in("/proc/self/mountinfo");
	for (std::string line; std::getline(in, line);) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		auto dash = line.find(" - ");
		if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0)
			continue;
		std::istringstream fields(line.substr(0, dash));
		std::string id, parent, dev, root, mountpoint;
		fields >> id >> parent >> dev >> root >> mountpoint;
		return mountpoint;
	}
	return {};
}

// The session's cgroup as /proc/self/cgroup names it ("/grantd/session-7"),
// whether grantd gave a cgroupfs path or one relative to the hierarchy.
std::string expected_proc_cgroup(const std::string& session_cgroup)
{
	std::string mount = cgroup2_mount();
	if (!mount.empty() && mount != "/" && session_cgroup.starts_with(mount + "/"))
		return session_cgroup.substr(mount.size());
	return session_cgroup;
}

// Reads an fd of /proc/self/cgroup opened before the process was admitted:
// once governed, the profile decides what it may open, and it need not name
// /proc. The kernel writes the file's text at read time, so it shows where
// the process is now.
std::string own_cgroup(int fd)
{
	std::string text;
	char buf[512];
	ssize_t n;
	while ((n = pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()))) > 0)
		text.append(buf, static_cast<std::size_t>(n));
	std::istringstream lines(text);
	for (std::string line; std::getline(lines, line);)
		if (line.starts_with("0::"))
			return line.substr(3);
	return {};
}

std::string channel_address(const std::string& channel)
{
	return channel.starts_with("unix:") ? channel : "unix:path=" + channel;
}

// In the child: open /proc/self/cgroup, say so (ready), wait to be
// admitted (gate), check, confine, exec. Never returns. The parent admits
// the child only once it has said it is ready: an open after admission is
// the session's to allow, and the profile need not name /proc.
[[noreturn]] void run_child(const Options& o, const Session& s, const std::string& expected_cgroup, int ready,
			   int gate, const sigset_t& original_mask)
{
	int proc_cgroup = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (proc_cgroup < 0) {
		std::fprintf(stderr, "grant-run: cannot open /proc/self/cgroup: %s\n", std::strerror(errno));
		_exit(kExitRunFailed);
	}
	if (write(ready, "r", 1) != 1)
		_exit(kExitRunFailed);
	close(ready);
	char go = 0;
	ssize_t n;
	do
		n = read(gate, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(kExitRunFailed); // the parent could not admit us and said so
	close(gate);
	std::string own = own_cgroup(proc_cgroup);
	if (own != expected_cgroup) {
		std::fprintf(stderr, "grant-run: the command's process is in cgroup '%s', not in the session's %s; not running it\n",
			     own.c_str(), s.cgroup.c_str());
		_exit(kExitRunFailed);
	}
	close(proc_cgroup);
	if (chdir(o.workspace.c_str()) != 0) {
		std::fprintf(stderr, "grant-run: cannot enter the workspace %s: %s\n", o.workspace.c_str(),
			     std::strerror(errno));
		_exit(kExitRunFailed);
	}
	setenv("GRANTD_BUS_ADDRESS", channel_address(s.channel).c_str(), 1);
	setenv("GRANTD_SESSION", std::to_string(s.id).c_str(), 1);
	auto confined = grantd::confine::confine();
	if (!confined) {
		std::fprintf(stderr, "grant-run: cannot confine the command: %s\n", confined.error().message.c_str());
		_exit(kExitRunFailed);
	}
	if (o.verbose) {
		std::fprintf(stderr, "grant-run: confined: no_new_privs, no capabilities%s, seccomp baseline (%zu syscalls)\n",
			     confined->bounding_set_dropped ? ", empty bounding set" : " (bounding set kept: no CAP_SETPCAP)",
			     grantd::confine::denied_syscalls().size() - confined->unknown_syscalls.size());
	}
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &original_mask, nullptr);
	execvp(o.command[0], o.command.data());
	int err = errno;
	std::fprintf(stderr, "grant-run: %s: %s\n", o.command[0], std::strerror(err));
	_exit(err == ENOENT ? kExitNotFound : kExitCannotExec);
}

// Every living descendant of this process, from the kernel's per-thread
// lists of children (/proc/PID/task/TID/children), parents before children.
std::vector<pid_t> descendants()
{
	std::vector<pid_t> found;
	std::vector<pid_t> parents{getpid()};
	while (!parents.empty() && found.size() < 65536) {
		pid_t parent = parents.back();
		parents.pop_back();
		std::error_code ec;
		std::string tasks = "/proc/" + std::to_string(parent) + "/task";
		for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
			std::ifstream in(task.path() / "children");
			for (pid_t pid; in >> pid;) {
				found.push_back(pid);
				parents.push_back(pid);
			}
		}
	}
	return found;
}

// Reaps every child that has exited; records the status of COMMAND's.
// Returns true while some child (COMMAND or an orphaned descendant) remains.
bool reap(pid_t command, bool& command_done, int& command_status)
{
	for (;;) {
		int status = 0;
		pid_t done = waitpid(-1, &status, WNOHANG);
		if (done > 0) {
			if (done == command) {
				command_done = true;
				command_status = status;
			}
			continue;
		}
		if (done < 0 && errno == EINTR)
			continue;
		return done == 0; // 0: children remain, none exited; -1 ECHILD: none
	}
}

void close_session(Client& client, std::uint32_t id, const std::string& reason)
{
	auto closed = client.manager("CloseSession", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "us", id, reason.c_str());
	});
	// A session also ends by itself when its cgroup empties.
	if (!closed && closed.error().message.find("NoSuchSession") == std::string::npos)
		std::fprintf(stderr, "grant-run: failed to close session %u: %s\n", id, closed.error().message.c_str());
}

} // namespace

int main(int argc, char** argv)
{
	Options o;
	if (int status = parse(argc, argv, o); status >= 0)
		return status;

	auto client = Client::connect(pick_endpoint(o.bus, false));
	if (!client)
		return fail(client.error().message);
	auto session = open_session(client.value(), o);
	if (!session) {
		const auto& message = session.error().message;
		bool bad_input = session.error().code == kExitUsage || message.find("(NoSuchProfile)") != std::string::npos;
		return fail(message, bad_input ? kExitUsage : kExitRunFailed);
	}
	for (const auto& line : session->skipped)
		std::fprintf(stderr, "grant-run: baseline not applied: %s\n", line.c_str());
	if (o.verbose)
		std::fprintf(stderr, "grant-run: session %u (profile %s) in %s, channel %s\n", session->id,
			     o.profile.c_str(), session->cgroup.c_str(), session->channel.c_str());

	// Orphaned descendants of COMMAND become grant-run's children, so that
	// it knows when the whole tree has exited.
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		int err = errno;
		close_session(client.value(), session->id, "grant-run failed to start the command");
		return fail(std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + std::strerror(err));
	}
	// Signals wait in a queue while the child starts: none is lost, none
	// kills grant-run before the session is closed.
	sigset_t handled, original;
	sigemptyset(&handled);
	for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD})
		sigaddset(&handled, sig);
	sigprocmask(SIG_BLOCK, &handled, &original);

	std::string expected = expected_proc_cgroup(session->cgroup);
	int gate[2], ready[2];
	if (pipe2(gate, O_CLOEXEC) != 0 || pipe2(ready, O_CLOEXEC) != 0) {
		int err = errno;
		close_session(client.value(), session->id, "grant-run failed to start the command");
		return fail(std::string("pipe: ") + std::strerror(err));
	}
	pid_t child = fork();
	if (child < 0) {
		int err = errno;
		close_session(client.value(), session->id, "grant-run failed to start the command");
		return fail(std::string("fork: ") + std::strerror(err));
	}
	if (child == 0) {
		close(gate[1]);
		close(ready[0]);
		run_child(o, session.value(), expected, ready[1], gate[0], original);
	}
	close(gate[0]);
	close(ready[1]);

	std::string admit_error;
	char said = 0;
	ssize_t got;
	do
		got = read(ready[0], &said, 1);
	while (got < 0 && errno == EINTR);
	close(ready[0]);
	// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++.
	int pidfd = got == 1 ? static_cast<int>(syscall(SYS_pidfd_open, child, 0)) : -1;
	if (got != 1) {
		admit_error = "the command's process exited before it could be admitted";
	} else if (pidfd < 0) {
		admit_error = std::string("pidfd_open: ") + std::strerror(errno);
	} else {
		auto admitted = client->manager("AdmitProcess", [&](sd_bus_message* m) {
			return sd_bus_message_append(m, "uh", session->id, pidfd);
		});
		close(pidfd);
		if (!admitted)
			admit_error = admitted.error().message;
	}
	if (admit_error.empty() && write(gate[1], "x", 1) != 1)
		admit_error = std::string("cannot start the command: ") + std::strerror(errno);
	close(gate[1]); // on failure the child reads EOF and exits without running anything

	int status = 0;
	bool command_done = false, announced = false;
	for (;;) {
		siginfo_t si{};
		int sig = sigwaitinfo(&handled, &si);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			if (!reap(child, command_done, status))
				break; // COMMAND and all it started are gone
			if (command_done && !announced) {
				announced = true;
				std::fprintf(stderr,
					     "grant-run: %s exited with status %d; session %u stays open until the %zu "
					     "processes it started exit\n",
					     o.command[0], grantd::confine::exit_status(status), session->id,
					     descendants().size());
			}
			continue;
		}
		// The terminal signals the whole foreground process group, the
		// child included (si_code SI_KERNEL); pass on only what was sent
		// to grant-run alone.
		if (si.si_code == SI_KERNEL)
			continue;
		if (!command_done)
			kill(child, sig);
		else
			for (pid_t pid : descendants())
				kill(pid, sig);
	}

	int exit_status = grantd::confine::exit_status(status);
	std::string reason = admit_error.empty()
				     ? "grant-run: command exited with status " + std::to_string(exit_status)
				     : "grant-run could not admit the command";
	close_session(client.value(), session->id, reason);
	if (!admit_error.empty())
		return fail("cannot admit the command into session " + std::to_string(session->id) + ": " + admit_error);
	return exit_status;
}
