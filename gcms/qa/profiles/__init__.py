"""Example instrument profiles shipped with gcms (TOML data; see gcms.qa.profile)."""
