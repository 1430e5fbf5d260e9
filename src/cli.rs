//! The command-line options of the local stack.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// How often the schedules run by default: payment-in polls every five minutes (as on AWS).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// The compressed schedule of `--fast`.
pub const FAST_INTERVAL: Duration = Duration::from_secs(15);

/// Runs every Ledgerlink flow locally (SQLite + a folder + built-in ERP emulators), with the HTTP API and
/// the operator page on 127.0.0.1. `ledgerlink admin ...` manages tenants and API keys, locally or on a
/// deployed stack.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ledgerlink",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Options {
    /// Another job than running the local stack.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where the state (SQLite), export files, local keys and the log live.
    #[arg(long, default_value = ".data")]
    pub data_dir: PathBuf,
    /// Port of the HTTP API and operator page on 127.0.0.1 (0: a free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Seed of the emulators' deterministic demo data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Compress the schedules to every 15 seconds (instead of every five minutes).
    #[arg(long, conflicts_with = "interval_secs")]
    pub fast: bool,
    /// Run the schedules every N seconds.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_secs: Option<u64>,
    /// Run one full round (discover and drain every flow, payments included), print the summary and exit.
    #[arg(long)]
    pub once: bool,
    /// Wipe the data directory first.
    #[arg(long)]
    pub reset: bool,
}

/// The jobs besides the local stack.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Create tenants, show their state, issue / list / revoke their API keys — in the local data dir or a
    /// deployed stack's table (see `ledgerlink admin --help`).
    Admin(crate::admin::AdminArgs),
}

impl Options {
    /// The interval of the schedules.
    pub fn interval(&self) -> Duration {
        match (self.interval_secs, self.fast) {
            (Some(n), _) => Duration::from_secs(n),
            (None, true) => FAST_INTERVAL,
            (None, false) => DEFAULT_INTERVAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_explicit_intervals_override_the_five_minute_default() {
        let parse = |args: &[&str]| Options::try_parse_from(args).map(|o| o.interval());
        assert_eq!(parse(&["ledgerlink"]).ok(), Some(DEFAULT_INTERVAL));
        assert_eq!(parse(&["ledgerlink", "--fast"]).ok(), Some(FAST_INTERVAL));
        assert_eq!(
            parse(&["ledgerlink", "--interval-secs", "7"]).ok(),
            Some(Duration::from_secs(7))
        );
        assert!(parse(&["ledgerlink", "--interval-secs", "0"]).is_err());
        assert!(parse(&["ledgerlink", "--fast", "--interval-secs", "7"]).is_err());
    }

    #[test]
    fn admin_commands_parse_with_their_target_and_refuse_a_bad_role() {
        let parse = |args: &[&str]| Options::try_parse_from(args);
        let ok = parse(&[
            "ledgerlink",
            "admin",
            "--table",
            "t",
            "--endpoint-url",
            "http://127.0.0.1:1",
            "keys",
            "issue",
            "acme",
            "--user",
            "ann",
            "--role",
            "operator",
            "--expires-in",
            "30",
        ]);
        let Ok(Options {
            command: Some(Command::Admin(args)),
            ..
        }) = ok
        else {
            panic!("{ok:?}")
        };
        assert_eq!(args.table.as_deref(), Some("t"));
        assert!(matches!(
            args.command,
            crate::admin::AdminCommand::Keys(crate::admin::KeysCommand::Issue {
                role: ledgerlink_api::Role::Operator,
                expires_in: Some(30),
                ..
            })
        ));
        let bad = parse(&[
            "ledgerlink",
            "admin",
            "keys",
            "issue",
            "acme",
            "--user",
            "u",
            "--role",
            "root",
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(bad.contains("`root` is not a role"), "{bad}");
        assert!(parse(&["ledgerlink", "--port", "0", "admin", "keys", "list", "acme"]).is_err());
    }
}
