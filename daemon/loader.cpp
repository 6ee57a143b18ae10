#include "loader.h"

#include "grantd.skel.h"
#include "libbpf_log.h"
#include "unique_fd.h"

#include <grantd/abi.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace grantd {
namespace fs = std::filesystem;

std::string map_pin_path(const std::string& pin_dir, const std::string& map)
{
	return pin_dir + "/maps/" + map;
}

std::string link_pin_path(const std::string& pin_dir, const std::string& program)
{
	return pin_dir + "/links/" + program;
}

const std::vector<std::string>& map_names()
{
	static const std::vector<std::string> names = {"settings", "governed_root", "sessions", "file_rules",
						       "file_hints", "net_rules", "rates", "counters", "events"};
	return names;
}

void Loader::SkelDeleter::operator()(grantd_bpf* skel) const { grantd_bpf__destroy(skel); }

Loader::Loader(Loader&&) noexcept = default;
Loader& Loader::operator=(Loader&&) noexcept = default;
Loader::~Loader() = default;

namespace {

Result<void> make_dir(const std::string& path)
{
	if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
		return Error::from_errno("create " + path);
	return {};
}

// Reads the ABI version a previous grantd recorded in its pinned settings map.
Result<std::uint32_t> pinned_abi_version(int settings_fd)
{
	__u32 zero = 0;
	grantd_config cfg{};
	if (bpf_map_lookup_elem(settings_fd, &zero, &cfg) != 0)
		return Error::from_errno("read pinned settings");
	return cfg.abi_version;
}

// Reuses every pinned map; all or none must be there.
Result<bool> reuse_pinned_maps(grantd_bpf* skel, const std::string& pin_dir)
{
	std::vector<std::string> present, missing;
	for (const auto& name : map_names())
		(fs::exists(map_pin_path(pin_dir, name)) ? present : missing).push_back(name);
	if (present.empty())
		return false;
	if (!missing.empty())
		return Error{"pinned maps in " + pin_dir + "/maps are incomplete (missing " +
			     missing.front() + "); run `grantd --remove-pins` and start again"};

	for (const auto& name : map_names()) {
		std::string path = map_pin_path(pin_dir, name);
		UniqueFd fd(bpf_obj_get(path.c_str()));
		if (!fd.valid())
			return Error::from_errno("open pinned map " + path);
		if (name == "settings") {
			auto version = pinned_abi_version(fd.get());
			if (!version)
				return version.error();
			if (version.value() != GRANTD_ABI_VERSION)
				return Error{"pinned objects in " + pin_dir + " use ABI version " +
					     std::to_string(version.value()) + ", this grantd uses " +
					     std::to_string(GRANTD_ABI_VERSION) +
					     "; stop grantd, run `grantd --remove-pins` (this ends enforcement "
					     "for every session) and start again"};
		}
		bpf_map* map = bpf_object__find_map_by_name(skel->obj, name.c_str());
		if (!map)
			return Error{"BPF object has no map " + name};
		if (int err = bpf_map__reuse_fd(map, fd.get()); err)
			return Error::from_errno("reuse pinned map " + path, -err);
	}
	return true;
}

// Pins a freshly attached link in place of the previous one. The new link is
// attached before the old one goes, so both enforce (on the same maps) for a
// moment and there is no gap; rename() replaces the pin atomically.
Result<void> pin_link(bpf_link* link, const std::string& path)
{
	// bpffs refuses names with a dot.
	std::string staging = path + "_staging";
	::unlink(staging.c_str());
	if (int err = bpf_link__pin(link, staging.c_str()); err)
		return Error::from_errno("pin link " + staging, -err);
	if (::rename(staging.c_str(), path.c_str()) != 0) {
		int err = errno;
		::unlink(staging.c_str());
		return Error::from_errno("replace pinned link " + path, err);
	}
	return {};
}

// Some hooks changed their arguments between kernels; each variant is a
// program of its own, and only the one matching this kernel is loaded.
Result<void> choose_hook_variants(grantd_bpf* skel)
{
	btf* vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return Error::from_errno("read kernel BTF");
	int id = btf__find_by_name_kind(vmlinux, "bpf_lsm_inode_setattr", BTF_KIND_FUNC);
	int args = -1;
	if (id > 0) {
		const btf_type* proto = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
		args = proto ? btf_vlen(proto) : -1;
	}
	btf__free(vmlinux);
	if (args != 2 && args != 3)
		return Error{"this kernel's inode_setattr LSM hook has " + std::to_string(args) +
			     " arguments; grantd knows the 2-argument (6.1) and 3-argument (idmap) forms"};
	bpf_program__set_autoload(skel->progs.grantd_inode_setattr, args == 2);
	bpf_program__set_autoload(skel->progs.grantd_inode_setattr_idmap, args == 3);
	return {};
}

} // namespace

Result<Loader> Loader::load(const LoaderOptions& options)
{
	LibbpfLogCapture log;
	Loader loader;
	loader.skel_.reset(grantd_bpf__open());
	if (!loader.skel_)
		return Error::from_errno("open BPF object");
	grantd_bpf* skel = loader.skel_.get();

	auto reused = reuse_pinned_maps(skel, options.pin_dir);
	if (!reused)
		return reused.error();
	loader.adopted_ = reused.value();
	if (!loader.adopted_) {
		bpf_map__set_max_entries(skel->maps.sessions, options.max_sessions);
		bpf_map__set_max_entries(skel->maps.file_rules, options.max_file_rules);
		bpf_map__set_max_entries(skel->maps.net_rules, options.max_net_rules);
		bpf_map__set_max_entries(skel->maps.rates, options.max_sessions);
	}

	if (auto chosen = choose_hook_variants(skel); !chosen)
		return chosen.error();
	if (int err = grantd_bpf__load(skel); err)
		return Error::from_errno("load BPF programs", -err).detail(log.tail(40));

	if (!loader.adopted_) {
		__u32 zero = 0;
		grantd_config cfg{};
		cfg.abi_version = GRANTD_ABI_VERSION;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.settings), &zero, &cfg, BPF_ANY) != 0)
			return Error::from_errno("initialise settings map");
		for (const auto& dir : {options.pin_dir, options.pin_dir + "/maps", options.pin_dir + "/links"})
			if (auto made = make_dir(dir); !made)
				return made.error();
		for (const auto& name : map_names()) {
			bpf_map* map = bpf_object__find_map_by_name(skel->obj, name.c_str());
			std::string path = map_pin_path(options.pin_dir, name);
			if (int err = bpf_map__pin(map, path.c_str()); err)
				return Error::from_errno("pin map " + path, -err);
		}
	} else if (auto made = make_dir(options.pin_dir + "/links"); !made) {
		return made.error();
	}

	bpf_program* prog;
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		bpf_link* link = bpf_program__attach(prog);
		if (!link)
			return Error::from_errno(std::string("attach ") + bpf_program__name(prog))
				.detail(log.tail());
		auto pinned = pin_link(link, link_pin_path(options.pin_dir, bpf_program__name(prog)));
		// The skeleton does not own links made outside grantd_bpf__attach.
		bpf_link__disconnect(link);
		bpf_link__destroy(link);
		if (!pinned)
			return pinned.error();
	}
	return loader;
}

int Loader::map_fd(const std::string& name) const
{
	bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name.c_str());
	return map ? bpf_map__fd(map) : -1;
}

std::vector<std::string> Loader::program_stats() const
{
	std::vector<std::string> lines;
	bpf_program* prog;
	bpf_object__for_each_program(prog, skel_->obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		bpf_prog_info info{};
		__u32 len = sizeof(info);
		char line[256];
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0)
			continue;
		std::snprintf(line, sizeof line, "%s: %u instructions, %u verified", bpf_program__name(prog),
			      static_cast<unsigned>(bpf_program__insn_cnt(prog)), info.verified_insns);
		lines.emplace_back(line);
	}
	return lines;
}

Result<std::vector<std::string>> remove_pins(const std::string& pin_dir)
{
	std::vector<std::string> removed;
	std::vector<__u32> prog_ids;
	if (!fs::exists(pin_dir))
		return removed;
	// Links first: detaching the programs before their maps disappear.
	for (const auto& sub : {std::string("/links"), std::string("/maps")}) {
		std::error_code ec;
		for (const auto& entry : fs::directory_iterator(pin_dir + sub, ec)) {
			if (sub == "/links") {
				UniqueFd link(bpf_obj_get(entry.path().c_str()));
				bpf_link_info info{};
				__u32 len = sizeof(info);
				if (link.valid() && bpf_obj_get_info_by_fd(link.get(), &info, &len) == 0)
					prog_ids.push_back(info.prog_id);
			}
			if (::unlink(entry.path().c_str()) != 0)
				return Error::from_errno("remove " + entry.path().string());
			removed.push_back(entry.path().string());
		}
		if (::rmdir((pin_dir + sub).c_str()) != 0 && errno != ENOENT)
			return Error::from_errno("remove " + pin_dir + sub);
	}
	if (::rmdir(pin_dir.c_str()) != 0 && errno != ENOENT)
		return Error::from_errno("remove " + pin_dir);

	// The kernel releases an unpinned link asynchronously, and its link id
	// goes before the program is unhooked; a program is freed (its id gone)
	// only after. Report success once every program is gone.
	for (int waited_ms = 0;; waited_ms += 20) {
		size_t attached = 0;
		for (__u32 id : prog_ids) {
			int fd = bpf_prog_get_fd_by_id(id);
			if (fd >= 0) {
				attached++;
				::close(fd);
			}
		}
		if (!attached)
			break;
		if (waited_ms >= 10000)
			return Error{std::to_string(attached) + " grantd program(s) still attached 10 s after their pins "
				     "were removed; something else holds them (see `bpftool link` and `bpftool prog`)"};
		::usleep(20000);
	}
	return removed;
}

} // namespace grantd
