//! Placeholder: this crate is being written (see the issue notes).
