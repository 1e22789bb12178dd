//! End-to-end tests of the local platform live in `tests/`; this library is intentionally empty.
