//! Test harness shared by the integration-test suites: a local AWS endpoint (moto's server) on a free loopback
//! port, random resource names, and the settings an AWS SDK client needs to talk to it.
//!
//! One moto server per test binary is enough: [`moto`] starts it on first use and every test creates its own
//! table, bucket and queues under [`unique_name`]s, so tests never see each other's data.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The region every test client uses (moto accepts any).
pub const TEST_REGION: &str = "us-east-1";
/// Dummy credentials: moto checks nothing, but the SDK refuses to sign without some.
pub const TEST_ACCESS_KEY_ID: &str = "testing";
pub const TEST_SECRET_ACCESS_KEY: &str = "testing";

/// How long moto may take to answer after it was started (a cold Python import is slow on a busy machine).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why moto could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "moto_server not found at {path}: run the README's test command, which installs moto into .venv \
         (or set LEDGERLINK_MOTO_SERVER to a moto_server binary)"
    )]
    Missing { path: PathBuf },
    #[error("could not start moto_server at {path}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("moto_server did not report its port within {timeout:?} (did it exit?)")]
    NoPort { timeout: Duration },
    #[error("moto_server on {addr} did not answer within {timeout:?}")]
    NotAnswering { addr: SocketAddr, timeout: Duration },
}

/// A running moto server on `127.0.0.1:<port the OS chose>`, stopped when dropped.
///
/// It is moto's server app, run by the interpreter of the `moto_server` script found by [`Self::binary`]
/// with one lock around each request (`MOTO_SERVER_PY` says why). It binds port 0, so the OS picks a
/// free port atomically (no window in which another process could take a port we found free), and the port
/// is read from the line the web server prints. The server runs under a small `sh` watchdog whose standard input is a pipe held by this process: when the
/// test binary exits — even when it is killed and nothing is dropped, as happens to statics — the pipe
/// closes and the watchdog kills moto. So no test run leaves a server behind.
#[derive(Debug)]
pub struct MotoServer {
    addr: SocketAddr,
    child: Child,
}

impl MotoServer {
    /// The moto_server binary: `LEDGERLINK_MOTO_SERVER`, else `<repo root>/.venv/bin/moto_server`.
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("LEDGERLINK_MOTO_SERVER") {
            return PathBuf::from(path);
        }
        repo_root().join(".venv").join("bin").join("moto_server")
    }

    /// Starts a new server and waits until it answers.
    pub fn start() -> Result<Self, MotoError> {
        let binary = Self::binary();
        if !binary.is_file() {
            return Err(MotoError::Missing { path: binary });
        }
        let mut child = spawn_watched(&binary)?;
        let port = match child.stderr.take() {
            Some(stderr) => read_port(stderr),
            None => Err(MotoError::NoPort {
                timeout: Duration::ZERO,
            }),
        };
        let port = match port {
            Ok(port) => port,
            Err(err) => {
                stop(&mut child);
                return Err(err);
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(err) = wait_until_answering(addr, &mut child) {
            stop(&mut child);
            return Err(err);
        }
        Ok(Self { addr, child })
    }

    /// `http://127.0.0.1:PORT` — an IP, not `localhost`, so no resolver picks IPv6 first.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment an AWS SDK (or a child process such as the local runner) needs to use this server:
    /// endpoint, region and dummy credentials.
    pub fn sdk_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url()),
            ("AWS_REGION", TEST_REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The server shared by every test of this test binary, started on first use.
///
/// # Panics
/// When moto cannot be started, with a message that says how to install it.
pub fn moto() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(|| match MotoServer::start() {
        Ok(server) => server,
        Err(err) => panic!("{err}"),
    })
}

/// A name no other test uses: `<prefix>-<12 random hex digits>`, valid for tables, buckets and queues
/// (lower-case letters, digits and `-`, at most 63 characters for a short prefix).
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// The repository root: two levels above this crate's manifest directory (`shared/testkit`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// moto's own server, as `moto_server` runs it, except that requests are applied one at a time.
///
/// moto's backends are not thread-safe: under concurrent requests its DynamoDB transactions are neither
/// atomic nor isolated (two racing conditional writes can both win, or fail with a Python `RuntimeError` as
/// their cancellation reason). DynamoDB serialises conflicting writes itself; holding one lock around each
/// request gives moto the same guarantee, so the contract suites' 16-task races test the adapters' conditions,
/// not moto's thread safety. Connections are still accepted concurrently, and the clients still race.
const MOTO_SERVER_PY: &str = r#"
import threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

backend = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()

def app(environ, start_response):
    with one_at_a_time:
        return list(backend(environ, start_response))

run_simple("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
"#;

/// The Python interpreter of a `moto_server` script: its shebang (`#!/path/python3` or
/// `#!/usr/bin/env python3`).
fn interpreter_of(script: &Path) -> Option<PathBuf> {
    let file = std::fs::File::open(script).ok()?;
    let mut first = String::new();
    BufReader::new(file).read_line(&mut first).ok()?;
    let mut words = first.strip_prefix("#!")?.split_whitespace();
    let program = words.next()?;
    if program.ends_with("/env") {
        words.next().map(PathBuf::from)
    } else {
        Some(PathBuf::from(program))
    }
}

/// `sh` starts moto in the background (its stdout discarded, its stderr — where the web server names its
/// port and logs requests — ours), then a background reader of our pipe (kept on fd 3, since a background
/// job's own stdin is /dev/null) that kills moto at EOF — we exited or dropped the server — and waits for
/// moto, so `sh` itself ends when moto does. SIGKILL, because moto keeps nothing worth a clean shutdown.
fn spawn_watched(binary: &Path) -> Result<Child, MotoError> {
    const WATCHDOG: &str = r#"exec 3<&0
"$0" -c "$1" 3<&- >/dev/null &
moto=$!
(cat <&3 >/dev/null; kill -KILL "$moto") >/dev/null 2>&1 &
exec 3<&-
wait "$moto""#;
    let python = interpreter_of(binary).ok_or_else(|| MotoError::Spawn {
        path: binary.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "moto_server has no #! interpreter line",
        ),
    })?;
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg(&python)
        .arg(MOTO_SERVER_PY)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| MotoError::Spawn {
            path: python,
            source,
        })
}

/// Reads moto's stderr until the web server says where it listens; keeps draining it afterwards (moto logs
/// every request there, and a full pipe would stall it).
fn read_port(stderr: ChildStderr) -> Result<u16, MotoError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reported = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !reported && let Some(port) = port_in(&line) {
                reported = tx.send(port).is_ok();
            }
        }
    });
    rx.recv_timeout(STARTUP_TIMEOUT)
        .map_err(|_| MotoError::NoPort {
            timeout: STARTUP_TIMEOUT,
        })
}

/// The port of werkzeug's ` * Running on http://127.0.0.1:PORT` line.
fn port_in(line: &str) -> Option<u16> {
    let rest = line.split("Running on http://127.0.0.1:").nth(1)?;
    rest.trim().trim_end_matches('/').parse().ok()
}

fn stop(child: &mut Child) {
    // Closing stdin makes the watchdog kill moto; `sh` then ends with it.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_until_answering(addr: SocketAddr, child: &mut Child) -> Result<(), MotoError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if answers(addr) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(MotoError::NotAnswering {
        addr,
        timeout: STARTUP_TIMEOUT,
    })
}

/// True when something on `addr` answers an HTTP request (moto's own API lists its backends).
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    matches!(stream.read(&mut head), Ok(n) if n >= 12 && head.starts_with(b"HTTP/1."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_keep_the_prefix() {
        let a = unique_name("ll-table");
        let b = unique_name("ll-table");
        assert_ne!(a, b);
        assert!(a.starts_with("ll-table-"));
        assert_eq!(a.len(), "ll-table-".len() + 12);
    }

    #[test]
    fn the_port_is_read_from_the_web_servers_banner() {
        assert_eq!(port_in(" * Running on http://127.0.0.1:40567"), Some(40567));
        assert_eq!(port_in("Press CTRL+C to quit"), None);
        assert_eq!(
            port_in("127.0.0.1 - - [22/Nov/2026] \"GET / HTTP/1.1\" 200 -"),
            None
        );
    }

    #[test]
    fn two_servers_get_different_ports() {
        let a = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
        let b = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));

        assert_ne!(a.addr(), b.addr());
        assert!(answers(a.addr()) && answers(b.addr()));
    }

    #[test]
    fn the_interpreter_comes_from_the_moto_server_shebang() {
        let dir = std::env::temp_dir().join(unique_name("shebang"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let direct = dir.join("direct");
        let via_env = dir.join("via-env");
        std::fs::write(&direct, "#!/opt/venv/bin/python3\nimport re\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&via_env, "#!/usr/bin/env python3\n").unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(
            interpreter_of(&direct),
            Some(PathBuf::from("/opt/venv/bin/python3"))
        );
        assert_eq!(interpreter_of(&via_env), Some(PathBuf::from("python3")));
        assert_eq!(interpreter_of(&dir.join("missing")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_repo_root_holds_the_workspace_manifest() {
        assert!(
            repo_root().join("Cargo.toml").is_file(),
            "{}",
            repo_root().display()
        );
        assert!(repo_root().join("shared").join("testkit").is_dir());
    }

    #[test]
    fn a_started_server_answers_and_stops_when_dropped() {
        if !MotoServer::binary().is_file() {
            panic!(
                "{}",
                MotoError::Missing {
                    path: MotoServer::binary()
                }
            );
        }
        let server = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
        let addr = server.addr();
        assert!(answers(addr));
        assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
        drop(server);
        let deadline = Instant::now() + Duration::from_secs(10);
        while answers(addr) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!answers(addr), "moto still answers on {addr} after drop");
    }
}
