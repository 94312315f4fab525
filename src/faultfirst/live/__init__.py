"""Live mode: the same lessons against the real APIs (keys from the environment or a git-ignored .env,
never printed), and record mode, which saves real exchanges as fixtures the simulated world replays."""
