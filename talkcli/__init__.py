"""talkcli: one portrait + one speech recording -> an MP4 of that face speaking."""

__version__ = "0.1.0"
