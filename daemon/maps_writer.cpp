#include "maps_writer.h"

#include "loader.h"
#include "mountinfo.h"
#include "seq_file.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

namespace grantd {
namespace {

UniqueFd dup_fd(int fd) { return UniqueFd(fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1); }

// A mount as an object's id needs it: its super block's kernel-internal
// dev_t (mountinfo's "major:minor") and whether stat reports the kernel's
// inode numbers there.
struct MountEntry {
	std::uint32_t dev = 0;
	bool stat_ino_exact = false;
};

Result<std::map<int, MountEntry>> mount_entries()
{
	auto read = read_mountinfo();
	if (!read)
		return read.error();
	std::map<int, MountEntry> mounts;
	for (const MountInfo& m : read.value())
		mounts[m.id] = MountEntry{(m.major << 20) | m.minor, stat_ino_is_kernel_ino(m.fstype)};
	return mounts;
}

// mount_entries(), read again only when the mount table has changed since:
// the kernel flags /proc/self/mountinfo with POLLPRI on every mount and
// unmount in the namespace. Rendering the whole table per object cost more
// than the rest of a grant. A mount id from an fd we hold names a mount that
// fd pins, so it cannot have been reused without a mount event after the
// table was read.
Result<MountEntry> mount_entry(int mnt_id)
{
	static std::mutex lock;
	static UniqueFd watch;
	static std::map<int, MountEntry> mounts;
	std::lock_guard<std::mutex> held(lock);
	if (!watch.valid())
		watch = UniqueFd(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
	pollfd p{watch.get(), POLLPRI, 0};
	if (!watch.valid() || ::poll(&p, 1, 0) < 0 || (p.revents & (POLLERR | POLLPRI | POLLNVAL)))
		mounts.clear();
	auto it = mounts.find(mnt_id);
	if (it == mounts.end()) {
		auto read = mount_entries();
		if (!read) {
			mounts.clear();
			return read.error();
		}
		auto found = read->find(mnt_id);
		if (found == read->end())
			return Error{"mount " + std::to_string(mnt_id) + " not in /proc/self/mountinfo"};
		MountEntry entry = found->second;
		if (watch.valid()) // else no way to tell when it changes: not kept
			mounts = std::move(read.value());
		return entry;
	}
	return it->second;
}

unsigned possible_cpus()
{
	int n = libbpf_num_possible_cpus();
	return n > 0 ? static_cast<unsigned>(n) : 1;
}

// /proc/self/fdinfo, held open: an fd's fdinfo is then found by one name,
// not a walk from / through /proc/self on every object. -1 (use the path)
// if it could not be opened, and in a process forked since, whose
// /proc/self it is not.
bool forked_since_open = false;

int fdinfo_dir()
{
	static const UniqueFd dir = [] {
		::pthread_atfork(nullptr, nullptr, [] { forked_since_open = true; });
		return UniqueFd(::open("/proc/self/fdinfo", O_PATH | O_DIRECTORY | O_CLOEXEC));
	}();
	return forked_since_open ? -1 : dir.get();
}

} // namespace

bool stat_ino_is_kernel_ino(std::string_view fstype)
{
	// Their getattr fills st_ino from inode->i_ino for every inode:
	// shmem_getattr and ext4_getattr (which serves ext2 and ext3 too) through
	// generic_fillattr; xfs_vn_getattr from ip->i_ino, which xfs_setup_inode
	// also makes i_ino. Stacking and remote file systems may not (overlayfs
	// reports a layer's inode number, or one it composes), nor need others:
	// those objects are named by their fdinfo.
	return fstype == "tmpfs" || fstype == "ext4" || fstype == "ext3" || fstype == "ext2" || fstype == "xfs";
}

Result<ObjectId> object_id(int fd, const struct statx& st)
{
	constexpr unsigned needed = STATX_INO | STATX_MNT_ID;
	if ((st.stx_mask & needed) == needed) {
		auto mount = mount_entry(static_cast<int>(st.stx_mnt_id));
		if (!mount)
			return mount.error();
		if (mount->stat_ino_exact)
			return ObjectId{mount->dev, st.stx_ino};
	}
	return object_id_from_fdinfo(fd);
}

Result<ObjectId> object_id(int fd)
{
	struct statx st{};
	if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_MNT_ID, &st) != 0)
		st.stx_mask = 0; // the fdinfo says it or fails with the reason
	return object_id(fd, st);
}

Result<ObjectId> object_id_from_fdinfo(int fd)
{
	std::string name = std::to_string(fd);
	std::string path = "/proc/self/fdinfo/" + name;
	int dir = fdinfo_dir();
	UniqueFd info(dir >= 0 ? ::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC)
			       : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!info.valid())
		return Error::from_errno("open " + path);
	auto text = read_seq_file(info.get(), path);
	if (!text)
		return text.error();
	// Lines of "key:<tab>value"; only the two keys are read.
	int mnt_id = -1;
	std::uint64_t ino = 0;
	bool have_ino = false;
	std::string_view rest = text.value();
	while (!rest.empty()) {
		std::size_t end = rest.find('\n');
		std::string_view line = rest.substr(0, end);
		rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
		auto value_of = [&line](std::string_view key) -> std::optional<std::string_view> {
			if (line.substr(0, key.size()) != key)
				return std::nullopt;
			std::string_view v = line.substr(key.size());
			v.remove_prefix(std::min(v.find_first_not_of(" \t"), v.size()));
			return v;
		};
		if (auto m = value_of("mnt_id:")) {
			if (std::from_chars(m->data(), m->data() + m->size(), mnt_id).ec != std::errc{})
				mnt_id = -1;
		} else if (auto i = value_of("ino:")) {
			have_ino = std::from_chars(i->data(), i->data() + i->size(), ino).ec == std::errc{};
		}
	}
	if (mnt_id < 0 || !have_ino)
		return Error{path + " lacks mnt_id or ino (kernel older than 5.14?)"};
	auto mount = mount_entry(mnt_id);
	if (!mount)
		return mount.error();
	return ObjectId{mount->dev, ino};
}

Result<ObjectId> object_id(const std::string& path)
{
	UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
	if (!fd.valid())
		return Error::from_errno("open " + path);
	auto id = object_id(fd.get());
	if (!id)
		return id.error().context(path);
	return id;
}

std::uint64_t boot_time_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_BOOTTIME, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

grantd_file_rule make_file_rule(std::uint32_t rights_mask, std::uint64_t deadline_ns)
{
	grantd_file_rule rule{};
	for (int r = 0; r < GRANTD_NR_FILE_RIGHTS; r++)
		if (rights_mask & GRANTD_RIGHT_BIT(r))
			rule.deadline_ns[r] = deadline_ns;
	return rule;
}

Result<MapsWriter> MapsWriter::from_loader(const Loader& loader)
{
	MapsWriter w;
	w.settings_ = dup_fd(loader.map_fd("settings"));
	w.sessions_ = dup_fd(loader.map_fd("sessions"));
	w.file_rules_ = dup_fd(loader.map_fd("file_rules"));
	w.governed_root_ = dup_fd(loader.map_fd("governed_root"));
	w.file_hints_ = dup_fd(loader.map_fd("file_hints"));
	w.net_rules_ = dup_fd(loader.map_fd("net_rules"));
	w.rates_ = dup_fd(loader.map_fd("rates"));
	w.counters_ = dup_fd(loader.map_fd("counters"));
	w.events_ = dup_fd(loader.map_fd("events"));
	for (const UniqueFd* fd :
	     {&w.settings_, &w.governed_root_, &w.sessions_, &w.file_rules_, &w.file_hints_, &w.net_rules_,
	      &w.rates_, &w.counters_, &w.events_})
		if (!fd->valid())
			return Error::from_errno("duplicate map fd");
	if (auto indexed = w.index_sessions(); !indexed)
		return indexed.error();
	return w;
}

Result<MapsWriter> MapsWriter::open_pinned(const std::string& pin_dir)
{
	MapsWriter w;
	auto open = [&](UniqueFd& fd, const char* name) -> Result<void> {
		std::string path = map_pin_path(pin_dir, name);
		fd.reset(bpf_obj_get(path.c_str()));
		if (!fd.valid())
			return Error::from_errno("open pinned map " + path);
		return {};
	};
	for (auto [fd, name] : {std::pair{&w.settings_, "settings"}, {&w.governed_root_, "governed_root"},
				{&w.sessions_, "sessions"},
				{&w.file_rules_, "file_rules"}, {&w.file_hints_, "file_hints"},
				{&w.net_rules_, "net_rules"}, {&w.rates_, "rates"},
				{&w.counters_, "counters"}, {&w.events_, "events"}})
		if (auto opened = open(*fd, name); !opened)
			return opened.error();
	auto cfg = w.config();
	if (!cfg)
		return cfg.error();
	if (cfg->abi_version != GRANTD_ABI_VERSION)
		return Error{"pinned maps in " + pin_dir + " use ABI version " + std::to_string(cfg->abi_version) +
			     ", expected " + std::to_string(GRANTD_ABI_VERSION)};
	if (auto indexed = w.index_sessions(); !indexed)
		return indexed.error();
	return w;
}

Result<void> MapsWriter::index_sessions()
{
	auto all = sessions();
	if (!all)
		return all.error();
	cgroups_.clear();
	for (const auto& [cgroup_id, s] : all.value())
		cgroups_[s.session_id] = cgroup_id;
	return {};
}

std::optional<std::uint64_t> MapsWriter::cgroup_of(std::uint32_t session_id) const
{
	auto it = cgroups_.find(session_id);
	if (it == cgroups_.end())
		return std::nullopt;
	return it->second;
}

Result<grantd_config> MapsWriter::config() const
{
	__u32 zero = 0;
	grantd_config cfg{};
	if (bpf_map_lookup_elem(settings_.get(), &zero, &cfg) != 0)
		return Error::from_errno("read settings map");
	return cfg;
}

Result<void> MapsWriter::set_root(int root_dir_fd, std::uint64_t root_id, std::uint32_t root_level,
				  std::uint32_t flags, std::uint32_t event_rate)
{
	__u32 zero = 0;
	// The programs' first test (governed_root), then the settings that
	// name the same cgroup.
	__u32 fd = static_cast<__u32>(root_dir_fd);
	if (root_dir_fd < 0 || bpf_map_update_elem(governed_root_.get(), &zero, &fd, BPF_ANY) != 0)
		return Error::from_errno("write the governed root into governed_root");
	grantd_config cfg{};
	cfg.abi_version = GRANTD_ABI_VERSION;
	cfg.root_level = root_level;
	cfg.root_cgroup_id = root_id;
	cfg.flags = flags;
	cfg.event_rate = event_rate;
	if (bpf_map_update_elem(settings_.get(), &zero, &cfg, BPF_ANY) != 0)
		return Error::from_errno("write settings map");
	return {};
}

Result<void> MapsWriter::add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags)
{
	if (session_id == 0)
		return Error{"session id 0 is reserved (it marks unregistered cgroups in events)"};
	if (auto other = cgroup_of(session_id))
		return Error{"register session " + std::to_string(session_id) + " for cgroup " +
			     std::to_string(cgroup_id) + ": it is registered for cgroup " + std::to_string(*other)};
	grantd_session s{session_id, flags};
	if (bpf_map_update_elem(sessions_.get(), &cgroup_id, &s, BPF_NOEXIST) != 0)
		return Error::from_errno("register session " + std::to_string(session_id) + " for cgroup " +
					 std::to_string(cgroup_id));
	cgroups_[session_id] = cgroup_id;
	return {};
}

Result<void> MapsWriter::set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags)
{
	auto current = session(cgroup_id);
	if (!current)
		return current.error();
	if (!current.value())
		return Error{"no session for cgroup " + std::to_string(cgroup_id)};
	grantd_session s = *current.value();
	s.flags = flags;
	if (bpf_map_update_elem(sessions_.get(), &cgroup_id, &s, BPF_EXIST) != 0)
		return Error::from_errno("update session for cgroup " + std::to_string(cgroup_id));
	return {};
}

Result<std::optional<grantd_session>> MapsWriter::session(std::uint64_t cgroup_id) const
{
	grantd_session s{};
	if (bpf_map_lookup_elem(sessions_.get(), &cgroup_id, &s) == 0)
		return std::optional<grantd_session>(s);
	if (errno == ENOENT)
		return std::optional<grantd_session>();
	return Error::from_errno("read session for cgroup " + std::to_string(cgroup_id));
}

Result<std::vector<std::pair<std::uint64_t, grantd_session>>> MapsWriter::sessions() const
{
	std::vector<std::pair<std::uint64_t, grantd_session>> out;
	std::uint64_t key = 0, next = 0;
	const void* prev = nullptr;
	while (bpf_map_get_next_key(sessions_.get(), prev, &next) == 0) {
		grantd_session s{};
		if (bpf_map_lookup_elem(sessions_.get(), &next, &s) == 0)
			out.emplace_back(next, s);
		else if (errno != ENOENT)
			return Error::from_errno("read session for cgroup " + std::to_string(next));
		key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		return Error::from_errno("list sessions");
	return out;
}

Result<std::vector<grantd_file_key>> MapsWriter::file_rules() const
{
	std::vector<grantd_file_key> out;
	grantd_file_key key{}, next{};
	const void* prev = nullptr;
	while (bpf_map_get_next_key(file_rules_.get(), prev, &next) == 0) {
		out.push_back(next);
		key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		return Error::from_errno("list file rules");
	return out;
}

Result<std::vector<std::pair<std::uint32_t, Endpoint>>> MapsWriter::net_rules() const
{
	std::vector<std::pair<std::uint32_t, Endpoint>> out;
	grantd_net_key key{}, next{};
	const void* prev = nullptr;
	while (bpf_map_get_next_key(net_rules_.get(), prev, &next) == 0) {
		Endpoint e;
		e.family = next.family;
		e.protocol = next.protocol;
		e.port = next.port;
		std::memcpy(e.addr, next.addr, sizeof e.addr);
		e.prefix_len = static_cast<std::uint8_t>(next.prefixlen - GRANTD_NET_KEY_FIXED_BITS);
		out.emplace_back(next.session_id, e);
		key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		return Error::from_errno("list net rules");
	return out;
}

Result<void> MapsWriter::remove_session(std::uint64_t cgroup_id)
{
	auto s = session(cgroup_id);
	if (!s)
		return s.error();
	// File rules first (see add_session), also those of a cgroup with no
	// session left.
	if (auto removed = remove_file_rules_of(cgroup_id); !removed)
		return removed.error();
	if (!s.value())
		return {};
	std::uint32_t session_id = s.value()->session_id;
	if (bpf_map_delete_elem(sessions_.get(), &cgroup_id) != 0 && errno != ENOENT)
		return Error::from_errno("remove session for cgroup " + std::to_string(cgroup_id));
	cgroups_.erase(session_id);
	return remove_net_rules_of(session_id);
}

Result<void> MapsWriter::remove_session(std::uint64_t cgroup_id, const SessionRules& rules)
{
	auto s = session(cgroup_id);
	if (!s)
		return s.error();
	// Past a failure, the others still go: each one left is a stale entry.
	// A file rule left keeps its right for tasks still in the cgroup, which
	// is all the session keeps: unregistered, it has nothing else.
	Result<void> first;
	auto keep = [&](Result<void> r) {
		if (!r && first)
			first = r.error();
	};
	for (const ObjectId& object : rules.files)
		keep(remove_file_rule(grantd_file_key{cgroup_id, object.dev, 0, object.ino}));
	if (!s.value())
		return first;
	std::uint32_t session_id = s.value()->session_id;
	if (bpf_map_delete_elem(sessions_.get(), &cgroup_id) != 0 && errno != ENOENT) {
		keep(Error::from_errno("remove session for cgroup " + std::to_string(cgroup_id)));
		return first;
	}
	cgroups_.erase(session_id);
	for (const Endpoint& endpoint : rules.nets)
		keep(remove_net_rule(session_id, endpoint));
	if (bpf_map_delete_elem(rates_.get(), &session_id) != 0 && errno != ENOENT)
		keep(Error::from_errno("remove event budget of session " + std::to_string(session_id)));
	return first;
}

Result<void> MapsWriter::remove_file_rules_of(std::uint64_t cgroup_id)
{
	std::vector<grantd_file_key> doomed;
	grantd_file_key key{}, next{};
	const void* prev = nullptr;
	while (bpf_map_get_next_key(file_rules_.get(), prev, &next) == 0) {
		if (next.cgroup_id == cgroup_id)
			doomed.push_back(next);
		key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		return Error::from_errno("list file rules");
	for (const auto& k : doomed)
		if (auto removed = delete_file_key(k); !removed)
			return Error{"remove file rule of cgroup " + std::to_string(cgroup_id) + ": " +
				     removed.error().message};
	return {};
}

Result<void> MapsWriter::remove_net_rules_of(std::uint32_t session_id)
{
	std::vector<grantd_net_key> doomed_net;
	grantd_net_key net_key{}, net_next{};
	const void* prev = nullptr;
	while (bpf_map_get_next_key(net_rules_.get(), prev, &net_next) == 0) {
		if (net_next.session_id == session_id)
			doomed_net.push_back(net_next);
		net_key = net_next;
		prev = &net_key;
	}
	if (errno != ENOENT)
		return Error::from_errno("list net rules");
	for (const auto& k : doomed_net)
		if (bpf_map_delete_elem(net_rules_.get(), &k) != 0 && errno != ENOENT)
			return Error::from_errno("remove net rule of session " + std::to_string(session_id));
	if (bpf_map_delete_elem(rates_.get(), &session_id) != 0 && errno != ENOENT)
		return Error::from_errno("remove event budget of session " + std::to_string(session_id));
	return {};
}

namespace {

grantd_net_key net_key_of(std::uint32_t session_id, const Endpoint& e)
{
	grantd_net_key key{};
	key.prefixlen = GRANTD_NET_KEY_FIXED_BITS + e.prefix_len;
	key.session_id = session_id;
	key.family = e.family;
	key.protocol = e.protocol;
	key.port = e.port;
	std::memcpy(key.addr, e.addr, sizeof key.addr);
	return key;
}

} // namespace

Result<void> MapsWriter::put_net_rule(std::uint32_t session_id, const Endpoint& endpoint,
				      const grantd_net_rule& rule)
{
	grantd_net_key key = net_key_of(session_id, endpoint);
	if (bpf_map_update_elem(net_rules_.get(), &key, &rule, BPF_ANY) != 0)
		return Error::from_errno("write net rule (session " + std::to_string(session_id) + ")");
	return {};
}

Result<void> MapsWriter::remove_net_rule(std::uint32_t session_id, const Endpoint& endpoint)
{
	grantd_net_key key = net_key_of(session_id, endpoint);
	if (bpf_map_delete_elem(net_rules_.get(), &key) != 0 && errno != ENOENT)
		return Error::from_errno("remove net rule (session " + std::to_string(session_id) + ")");
	return {};
}

grantd_net_rule make_net_rule(std::uint32_t rights_mask, std::uint64_t deadline_ns)
{
	grantd_net_rule rule{};
	if (rights_mask & GRANTD_RIGHT_BIT(GRANTD_RIGHT_CONNECT))
		rule.deadline_ns[GRANTD_NET_CONNECT] = deadline_ns;
	if (rights_mask & GRANTD_RIGHT_BIT(GRANTD_RIGHT_SEND))
		rule.deadline_ns[GRANTD_NET_SEND] = deadline_ns;
	if (rights_mask & GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND))
		rule.deadline_ns[GRANTD_NET_BIND] = deadline_ns;
	return rule;
}

Result<Endpoint> parse_endpoint(const std::string& text)
{
	auto bad = [&](const std::string& why) {
		return Error{"bad endpoint '" + text + "': " + why + " (expected PROTO:ADDRESS/PREFIX:PORT, e.g. "
			     "tcp:192.0.2.1/32:443 or udp:[2001:db8::]/32:any)"};
	};
	Endpoint e;
	auto colon = text.find(':');
	if (colon == std::string::npos)
		return bad("no protocol");
	std::string proto = text.substr(0, colon), rest = text.substr(colon + 1);
	if (proto == "tcp")
		e.protocol = IPPROTO_TCP;
	else if (proto == "udp")
		e.protocol = IPPROTO_UDP;
	else
		return bad("unknown protocol '" + proto + "'");
	std::string address;
	if (!rest.empty() && rest[0] == '[') {
		auto close = rest.find(']');
		if (close == std::string::npos)
			return bad("unclosed '['");
		address = rest.substr(1, close - 1);
		rest = rest.substr(close + 1);
		e.family = 6;
	} else {
		auto end = rest.find_first_of("/:");
		address = rest.substr(0, end);
		rest = end == std::string::npos ? "" : rest.substr(end);
		e.family = 4;
	}
	if (inet_pton(e.family == 4 ? AF_INET : AF_INET6, address.c_str(), e.addr) != 1)
		return bad("'" + address + "' is not an IPv" + std::to_string(e.family) + " address");
	e.prefix_len = e.family == 4 ? 32 : 128;
	if (!rest.empty() && rest[0] == '/') {
		auto end = rest.find(':');
		std::string len = rest.substr(1, end == std::string::npos ? std::string::npos : end - 1);
		char* stop = nullptr;
		unsigned long n = std::strtoul(len.c_str(), &stop, 10);
		if (len.empty() || *stop || n > e.prefix_len)
			return bad("prefix length '" + len + "' out of range");
		e.prefix_len = static_cast<std::uint8_t>(n);
		rest = end == std::string::npos ? "" : rest.substr(end);
	}
	if (rest.size() < 2 || rest[0] != ':')
		return bad("no port");
	std::string port = rest.substr(1);
	if (port != "any") {
		char* stop = nullptr;
		unsigned long n = std::strtoul(port.c_str(), &stop, 10);
		if (port.empty() || *stop || n == 0 || n > 65535)
			return bad("port '" + port + "' is not 1-65535 or any");
		e.port = static_cast<std::uint16_t>(n);
	}
	// Bits past the prefix are cleared so equal prefixes make equal keys.
	for (int bit = e.prefix_len; bit < 128; bit++)
		e.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
	return e;
}

// The file_hints slot of an object moves by delta (+1 before a rule is
// inserted, -1 after one is deleted; see GRANTD_FILE_HINT_BITS). grantd is
// the maps' only writer, from one thread.
Result<void> MapsWriter::adjust_hint(const grantd_file_key& key, int delta)
{
	std::uint32_t slot = grantd_file_hint_slot(key.dev, key.ino), count = 0;
	if (bpf_map_lookup_elem(file_hints_.get(), &slot, &count) != 0)
		return Error::from_errno("read file hint " + std::to_string(slot));
	if (delta < 0 && count == 0)
		return {}; // cannot happen while the invariant holds; never wrap
	count = delta < 0 ? count - 1 : count + 1;
	if (bpf_map_update_elem(file_hints_.get(), &slot, &count, BPF_ANY) != 0)
		return Error::from_errno("write file hint " + std::to_string(slot));
	return {};
}

Result<void> MapsWriter::delete_file_key(const grantd_file_key& key)
{
	if (bpf_map_delete_elem(file_rules_.get(), &key) != 0)
		return errno == ENOENT ? Result<void>{} : Error::from_errno("delete file rule");
	return adjust_hint(key, -1);
}

Result<void> MapsWriter::put_file_rule(std::uint32_t session_id, const ObjectId& object,
				       const grantd_file_rule& rule)
{
	auto cgroup = cgroup_of(session_id);
	if (!cgroup)
		return Error{"write file rule (session " + std::to_string(session_id) + ", inode " +
			     std::to_string(object.ino) + "): the session is not registered in the kernel"};
	grantd_file_key key{*cgroup, object.dev, 0, object.ino};
	grantd_file_rule existing{};
	bool exists = bpf_map_lookup_elem(file_rules_.get(), &key, &existing) == 0;
	if (!exists)
		if (auto hinted = adjust_hint(key, +1); !hinted)
			return hinted.error();
	if (bpf_map_update_elem(file_rules_.get(), &key, &rule, BPF_ANY) != 0) {
		auto error = Error::from_errno("write file rule (session " + std::to_string(session_id) + ", inode " +
					       std::to_string(object.ino) + ")");
		if (!exists)
			(void)adjust_hint(key, -1);
		return error;
	}
	return {};
}

Result<void> MapsWriter::remove_file_rule(std::uint32_t session_id, const ObjectId& object)
{
	auto cgroup = cgroup_of(session_id);
	if (!cgroup)
		return {}; // not registered: its rules went before it (remove_session)
	grantd_file_key key{*cgroup, object.dev, 0, object.ino};
	if (auto removed = delete_file_key(key); !removed)
		return Error{"remove file rule (session " + std::to_string(session_id) + ", inode " +
			     std::to_string(object.ino) + "): " + removed.error().message};
	return {};
}

Result<void> MapsWriter::remove_file_rule(const grantd_file_key& key)
{
	if (auto removed = delete_file_key(key); !removed)
		return Error{"remove file rule (cgroup " + std::to_string(key.cgroup_id) + ", inode " +
			     std::to_string(key.ino) + "): " + removed.error().message};
	return {};
}

Result<std::uint32_t> MapsWriter::file_hint(const ObjectId& object) const
{
	std::uint32_t slot = grantd_file_hint_slot(object.dev, object.ino), count = 0;
	if (bpf_map_lookup_elem(file_hints_.get(), &slot, &count) != 0)
		return Error::from_errno("read file hint");
	return count;
}

Result<std::optional<grantd_file_rule>> MapsWriter::file_rule(std::uint32_t session_id,
							      const ObjectId& object) const
{
	auto cgroup = cgroup_of(session_id);
	if (!cgroup)
		return std::optional<grantd_file_rule>();
	grantd_file_key key{*cgroup, object.dev, 0, object.ino};
	grantd_file_rule rule{};
	if (bpf_map_lookup_elem(file_rules_.get(), &key, &rule) == 0)
		return std::optional<grantd_file_rule>(rule);
	if (errno == ENOENT)
		return std::optional<grantd_file_rule>();
	return Error::from_errno("read file rule");
}

Result<std::vector<grantd_file_key>> MapsWriter::sweep_expired(std::uint64_t now_ns)
{
	std::vector<grantd_file_key> expired;
	grantd_file_key key{}, next{};
	grantd_file_rule rule{};
	const void* prev = nullptr;
	while (bpf_map_get_next_key(file_rules_.get(), prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(file_rules_.get(), &key, &rule) != 0)
			continue;
		bool live = false;
		for (auto deadline : rule.deadline_ns)
			live |= deadline > now_ns;
		if (!live)
			expired.push_back(key);
	}
	for (const auto& k : expired)
		if (auto removed = delete_file_key(k); !removed)
			return Error{"remove expired rule: " + removed.error().message};
	return expired;
}

namespace {

grantd_counter sum_cpus(const grantd_counter* per_cpu, unsigned cpus)
{
	grantd_counter sum{};
	for (unsigned i = 0; i < cpus; i++) {
		sum.allow += per_cpu[i].allow;
		sum.deny += per_cpu[i].deny;
		sum.lost_events += per_cpu[i].lost_events;
		sum.rate_limited += per_cpu[i].rate_limited;
	}
	return sum;
}

} // namespace

Result<grantd_counter> MapsWriter::counters(grantd_hook hook) const
{
	std::vector<grantd_counter> per_cpu(possible_cpus());
	__u32 key = hook;
	if (bpf_map_lookup_elem(counters_.get(), &key, per_cpu.data()) != 0)
		return Error::from_errno("read counters");
	return sum_cpus(per_cpu.data(), possible_cpus());
}

Result<std::vector<grantd_counter>> MapsWriter::all_counters() const
{
	unsigned cpus = possible_cpus();
	std::vector<__u32> keys(GRANTD_NR_HOOKS);
	std::vector<grantd_counter> values(static_cast<std::size_t>(GRANTD_NR_HOOKS) * cpus);
	__u32 next = 0;
	__u32 count = GRANTD_NR_HOOKS;
	std::vector<grantd_counter> out;
	// The whole array in one call: it ends with ENOENT (no more keys) or,
	// where the batch fits exactly, 0.
	int r = bpf_map_lookup_batch(counters_.get(), nullptr, &next, keys.data(), values.data(), &count, nullptr);
	if ((r == 0 || errno == ENOENT) && count == GRANTD_NR_HOOKS) {
		out.resize(GRANTD_NR_HOOKS);
		for (__u32 i = 0; i < count; i++) {
			if (keys[i] >= GRANTD_NR_HOOKS)
				return Error{"read counters: the batch returned hook " + std::to_string(keys[i])};
			out[keys[i]] = sum_cpus(&values[static_cast<std::size_t>(i) * cpus], cpus);
		}
		return out;
	}
	if (r != 0 && errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOENT)
		return Error::from_errno("read counters");
	// No batch operation on this kernel's array maps (or a short batch).
	out.clear();
	for (int hook = 0; hook < GRANTD_NR_HOOKS; hook++) {
		auto c = counters(static_cast<grantd_hook>(hook));
		if (!c)
			return c.error();
		out.push_back(c.value());
	}
	return out;
}

} // namespace grantd
