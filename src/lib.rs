//! Home of the workspace's integration tests (`tests/`) and runnable
//! programs (`examples/`); it has no code of its own.
