"""Embedded sample portrait and speech for `talkcli demo`."""
