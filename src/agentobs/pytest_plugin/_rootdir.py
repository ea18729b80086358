"""Keep the values of the plugin's options out of pytest's rootdir and ini-file search.

pytest finds the rootdir and the ini file (``pytest.ini``, ``pyproject.toml``...) before it
loads entry-point plugins such as this one. At that point it does not know ``--agentobs-*``
options, so in ``--agentobs-history .ci/history.json`` (the space form) it takes the value for
a test path as soon as that file exists: the rootdir moves to a common ancestor, and the
project's ini file (its addopts, markers, asyncio mode...) is ignored.

No hook of an entry-point plugin runs earlier than that search, so the plugin corrects it at
its first chance (``pytest_load_initial_conftests``, before any conftest is imported and before
the final parse of the command line): when one of its options was given in the space form with
a value that exists on disk, it redoes pytest's search without those values and, if the result
differs, installs the right rootdir and ini file and replays what pytest derived from the wrong
one (addopts, ``-p`` plugins of the addopts, ``minversion``, ``pythonpath``,
``required_plugins``, the conftest cut-off). The space and ``=`` forms then behave alike.
"""

from __future__ import annotations

import copy
import os
from typing import Any

VALUE_FLAGS = frozenset(
    (
        "--agentobs-export",
        "--agentobs-suite",
        "--agentobs-pushgateway",
        "--agentobs-history",
        "--agentobs-flaky-window",
    )
)
"""The plugin's options that take a value (as a separate argument in the space form)."""


def without_option_values(args: list[str]) -> tuple[list[str], bool]:
    """``args`` without the plugin's space-form options and their values, and whether one of
    those values names something that exists (which pytest may have taken for a test path)."""
    kept: list[str] = []
    collides = False
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--":
            kept.extend(args[index:])
            break
        if arg in VALUE_FLAGS and index + 1 < len(args):
            skip = True
            value = args[index + 1]
            if not value.startswith("-") and _exists(value):
                collides = True
            continue
        kept.append(arg)
    return kept, collides


def _exists(value: str) -> bool:
    try:
        return os.path.exists(value.split("::", 1)[0])
    except (OSError, ValueError):
        return False


def correct(config: Any, args: list[str]) -> bool:
    """Redo pytest's rootdir and ini-file search without the plugin's option values.

    ``args`` is the argument list pytest is parsing (modified in place). True when the setup
    had to be corrected."""
    given = [*_env_addopts(), *config.invocation_params.args]
    cleaned, collides = without_option_values(given)
    if not collides:
        return False
    from .._errors import internal_errors

    parser = config._parser
    ns = parser.parse_known_args(cleaned, namespace=copy.copy(config.option))
    found: tuple[Any, ...] = ()
    with internal_errors("pytest plugin: rootdir"):  # pytest internals of another version
        from _pytest.config.findpaths import determine_setup

        found = tuple(
            determine_setup(
                inifile=ns.inifilename,
                override_ini=ns.override_ini,
                args=ns.file_or_dir,
                rootdir_cmd_arg=ns.rootdir or None,
                invocation_dir=config.invocation_params.dir,
            )
        )
    if not found:
        return False
    rootpath, inipath, inicfg, *rest = found
    if rootpath == config.rootpath and inipath == config.inipath:
        return False
    old_addopts = list(config.getini("addopts"))
    config._rootpath, config._inipath, config._inicfg = rootpath, inipath, inicfg
    if rest:
        config._ignored_config_files = rest[0]
    config._inicache.clear()
    parser.extra_info["rootdir"] = str(rootpath)
    parser.extra_info["inifile"] = str(inipath)
    if args[: len(old_addopts)] == old_addopts:
        del args[: len(old_addopts)]
    addopts = list(config.getini("addopts"))
    args[:0] = config._validate_args(addopts, "via addopts config")
    config.known_args_namespace = parser.parse_known_args(args, namespace=copy.copy(config.option))
    from _pytest.config.findpaths import parse_override_ini

    overrides = parse_override_ini(config.known_args_namespace.override_ini)
    if overrides:
        config._inicfg.update(overrides)
        config._inicache.clear()
    config._checkversion()
    config._configure_python_path()
    config.pluginmanager.consider_preparse(addopts, exclude_only=False)
    config._validate_plugins()
    if ns.confcutdir is None:
        config.known_args_namespace.confcutdir = str(
            inipath.parent if inipath is not None else rootpath
        )
    return True


def _env_addopts() -> list[str]:
    import shlex

    return shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
