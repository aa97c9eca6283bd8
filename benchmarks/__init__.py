"""Scripts that measure lit_gans (speed, sample quality over training and seeds, metric floors): run each from the
repo root as ``python -m benchmarks.<name> --help``. They train through ``lit_gans.cli.main``, as a user's run does."""
