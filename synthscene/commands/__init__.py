"""The command line's sub-commands beyond the thin ones in synthscene/cli.py: `assets`, `init`,
and `train` / `evaluate` / `benchmark`."""
