//! A real third-party client (ossobv `exactonline`, pinned in `scripts/requirements-exact-client.txt`) runs
//! unchanged against the emulator: `tests/third_party/exact_client_check.py` with `<repo>/.venv/bin/python`.

use std::path::PathBuf;
use std::time::Duration;

use ledgerlink_emulators::exact::{ExactConfig, ExactEmulator};

#[tokio::test]
async fn the_ossobv_exactonline_python_client_works_against_the_emulator() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = repo.join(".venv/bin/python");
    let script = repo.join("tests/third_party/exact_client_check.py");
    if !python.exists() {
        println!(
            "NOTE: {} is absent; skipping the third-party client check (see scripts/requirements-exact-client.txt)",
            python.display()
        );
        return;
    }
    let emu = ExactEmulator::new(ExactConfig::default());
    let server = emu.spawn().await.unwrap();
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(server.base_url())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the client check finished within 120 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client check failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
    assert_eq!(
        emu.count_sales_entries_with_your_ref(424242, "PY-INV-0001"),
        1
    );
    assert!(emu.counters().count_matching("POST /api/oauth2/token") >= 2);
}
