//! Integration tests of the flows.
