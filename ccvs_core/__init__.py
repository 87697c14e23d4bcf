"""ccvs: context-aware controllable video synthesis.

The public API; plugins and user code import from here only.
"""

from ccvs_core.conditions import (
    Condition,
    ConditionContext,
    Slot,
    Timeline,
    get_condition,
    list_conditions,
    register_condition,
)
from ccvs_core.config_base import Config, at_least, greater_than, in_range
from ccvs_core.errors import CCVSError, CheckpointError, ConfigError, InputError, PluginError
from ccvs_core.sequence import SequenceLayout

__version__ = "0.1.0"

__all__ = [
    "CCVSError",
    "CCVSPipeline",
    "CheckpointError",
    "Condition",
    "ConditionContext",
    "Config",
    "ConfigError",
    "InputError",
    "PluginError",
    "SequenceLayout",
    "Slot",
    "Timeline",
    "__version__",
    "at_least",
    "get_condition",
    "greater_than",
    "in_range",
    "list_conditions",
    "register_condition",
]


def __getattr__(name: str):
    # CCVSPipeline pulls in the models: loaded on first use, so that importing a plugin (which imports
    # this package to register its condition) stays cheap
    if name == "CCVSPipeline":
        from ccvs_core.pipeline import CCVSPipeline

        return CCVSPipeline
    raise AttributeError(f"module 'ccvs_core' has no attribute {name!r}")
