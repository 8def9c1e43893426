//! The moto server the tests talk to: the one `scripts/test` started, or one per test binary.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Watches its parent (the test binary) and stops moto when the parent is gone: the test
/// harness ends with `process::exit`, which runs no destructor that could kill the server.
/// Polling `getppid` rather than `PR_SET_PDEATHSIG` on the supervisor, because that signal
/// fires when the spawning *thread* (one test) ends. Moto itself gets the death signal of the
/// supervisor (a single-threaded process), so it also goes when the supervisor is killed.
const SUPERVISOR: &str = r#"
import ctypes, os, signal, subprocess, sys, time
test_pid, moto, port, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def die_with_supervisor():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, Linux
    except (AttributeError, OSError):
        pass

server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", port], stdin=subprocess.DEVNULL,
                          stdout=open(log, "w"), stderr=subprocess.STDOUT,
                          preexec_fn=die_with_supervisor)

def stop(*_):
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
    sys.exit(0)

for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(signum, stop)
while os.getppid() == test_pid and server.poll() is None:
    time.sleep(0.2)
stop()
"#;

/// The moto endpoint, e.g. `http://127.0.0.1:40123`: `CUTOVER_TEST_ENDPOINT` when set
/// (`scripts/test` sets it), otherwise a server started once for this test binary from
/// `.venv` and stopped when the binary exits.
pub fn moto_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("CUTOVER_TEST_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint.trim_end_matches('/').to_string(),
        _ => start_private_moto(),
    })
}

fn start_private_moto() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let moto = root.join(".venv/bin/moto_server");
    if !moto.exists() || !python.exists() {
        panic!(
            "{} is missing: run scripts/test once (it installs moto into .venv), \
             or set CUTOVER_TEST_ENDPOINT to a running moto server",
            moto.display()
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("could not pick a free loopback port")
        .port();
    let log = std::env::temp_dir().join(format!("cutover-tests-moto-{}.log", std::process::id()));
    // Never waited on: the supervisor outlives this function and stops moto when the test
    // process exits.
    #[allow(clippy::zombie_processes)]
    Command::new(&python)
        .args(["-c", SUPERVISOR, &std::process::id().to_string()])
        .arg(&moto)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {}: {error}", python.display()));
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(port) {
        if Instant::now() > deadline {
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("moto did not answer GET {endpoint}/moto-api/ within 30 s; its log:\n{output}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    endpoint
}

fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
