"""Motion presets (YAML) shipped with talkcli."""
