//! Exact Online emulator (see `../shared/reference/exact-online-api.md`, section 8 checklist).
