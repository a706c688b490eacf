"""What drives the domain for the TUI and the CLI alike: the fleet session in parts
(feed, operations runner, demo bootstrap), the guarded door and the rollout driver."""
