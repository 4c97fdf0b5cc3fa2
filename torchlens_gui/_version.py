"""The version of torchlens-gui: its one owner (the package, the wheel and the environment block of
snapshots read it here). Imports nothing, so any layer may read it."""

__version__ = "0.1.0"
