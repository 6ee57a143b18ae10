#include "loader.h"

#include "grantd.skel.h"
#include "libbpf_log.h"
#include "unique_fd.h"

#include <grantd/abi.h>

#include <bpf/bpf.h>
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
	static const std::vector<std::string> names = {"settings", "sessions", "file_rules", "counters",
						       "events"};
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
	}

	if (int err = grantd_bpf__load(skel); err)
		return Error::from_errno("load BPF programs", -err).detail(log.tail());

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
	if (!fs::exists(pin_dir))
		return removed;
	// Links first: detaching the programs before their maps disappear.
	for (const auto& sub : {std::string("/links"), std::string("/maps")}) {
		std::error_code ec;
		for (const auto& entry : fs::directory_iterator(pin_dir + sub, ec)) {
			if (::unlink(entry.path().c_str()) != 0)
				return Error::from_errno("remove " + entry.path().string());
			removed.push_back(entry.path().string());
		}
		if (::rmdir((pin_dir + sub).c_str()) != 0 && errno != ENOENT)
			return Error::from_errno("remove " + pin_dir + sub);
	}
	if (::rmdir(pin_dir.c_str()) != 0 && errno != ENOENT)
		return Error::from_errno("remove " + pin_dir);
	return removed;
}

} // namespace grantd
