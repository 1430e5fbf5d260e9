//! Deltek Vantagepoint emulator (see `../shared/reference/vantagepoint-api.md`, section 10 checklist).
