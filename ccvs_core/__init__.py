"""ccvs: context-aware controllable video synthesis (public API being assembled)."""

from ccvs_core.errors import CCVSError, CheckpointError, ConfigError, InputError, PluginError

__version__ = "0.1.0"
