"""keras-s2v: audio-driven lip sync with a modified Speech2Vid generator and a SyncNet expert."""

__version__ = "0.1.0"
