"""The engine registry: ``--engine NAME`` -> :class:`~talkface.engines.EngineSpec`.

Adding an engine is one module in ``talkface/engines/`` (its options dataclass, its engine class and
its ``SPEC``) and one line here. The command line, the web form and page, the API schema and the
benchmark offer every registered engine with its options. Importing this module imports no torch.
"""

from __future__ import annotations

from typing import Any

from talkface.engines import Engine, EngineSpec, hyperlips, warp, wav2lip
from talkface.options import EngineOptions, OptionError, build_options

ENGINES: dict[str, EngineSpec] = {}
DEFAULT_ENGINE = "warp"


def register(spec: EngineSpec) -> EngineSpec:
    """Add ``spec`` to :data:`ENGINES` (replacing one of the same name) and return it.

    Raises:
        ValueError: its options class names another engine (``engine`` class variable).
    """
    if spec.options.engine != spec.name:
        raise ValueError(f"{spec.options.__name__}.engine is {spec.options.engine!r}, not {spec.name!r}")
    ENGINES[spec.name] = spec
    return spec


register(warp.SPEC)
register(wav2lip.SPEC)
register(hyperlips.SPEC)


def engine_spec(name: str) -> EngineSpec:
    """The registered engine called ``name``.

    Raises:
        OptionError: no such engine.
    """
    if name not in ENGINES:
        raise OptionError("engine", f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")
    return ENGINES[name]


def engine_options(engine: str | EngineOptions = DEFAULT_ENGINE, **values: Any) -> EngineOptions:
    """The options of an engine: ``engine`` is a name (``values`` are its options, unset ones take
    their defaults) or an options object already (then ``values`` must be empty).

    Raises:
        OptionError: unknown engine, an option it does not have, or a bad or missing value.
    """
    if isinstance(engine, EngineOptions):
        if values:
            name = next(iter(values))
            raise OptionError(name, f"give {name} inside the {engine.engine} options object, not beside it")
        return engine
    return build_options(engine_spec(engine).options, values)


def build_engine(options: EngineOptions) -> Engine:
    """A new engine for ``options`` (its builder may load weights: slow)."""
    return engine_spec(options.engine).build(options)
