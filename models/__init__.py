"""Named presets, as TOML data. Installed as ``chartui.presets``; see chartui.config.load_preset."""
