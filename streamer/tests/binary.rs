//! The real `skerry-streamer` binary: configuration from the environment, readiness through
//! sd-notify once it listens, health over TLS, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the streamer if a test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn starts_notifies_ready_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    notify
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let child = Command::new(env!("CARGO_BIN_EXE_skerry-streamer"))
        .env("SKERRY_SOURCE", "synthetic")
        .env("SKERRY_PORT", "0")
        .env("SKERRY_TLS_DIR", dir.path().join("tls"))
        .env("NOTIFY_SOCKET", &notify_path)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the streamer starts");
    let mut running = Running(child);

    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("a notification");
    assert!(
        String::from_utf8_lossy(&buf[..n]).contains("READY=1"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    let stdout = running.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port: u16 = loop {
        let line = lines
            .next()
            .expect("the streamer logs where it serves")
            .expect("utf-8 log");
        if let Some(rest) = line.split("https://127.0.0.1:").nth(1) {
            break rest
                .split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
        }
    };
    assert!(dir.path().join("tls/cert.pem").exists(), "certificate kept");

    // The health endpoint answers over TLS with the certificate the streamer kept.
    let cert_pem = std::fs::read(dir.path().join("tls/cert.pem")).expect("cert");
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(healthz(port, &cert_pem));
    assert_eq!(status, 200);

    let pid = rustix::process::Pid::from_child(&running.0);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = running.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < end, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

async fn healthz(port: u16, cert_pem: &[u8]) -> u16 {
    use http_body_util::Empty;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &cert_pem[..]) {
        roots.add(cert.expect("PEM")).expect("trust");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS with the kept certificate");
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("http");
    tokio::spawn(conn);
    let req = hyper::Request::get("/healthz")
        .header("host", "localhost")
        .body(Empty::<bytes::Bytes>::new())
        .expect("request");
    send.send_request(req)
        .await
        .expect("response")
        .status()
        .as_u16()
}

#[test]
fn invalid_configuration_is_reported_whole_and_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_skerry-streamer"))
        .env("SKERRY_PORT", "http")
        .env("SKERRY_FPS", "0")
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("SKERRY_PORT") && log.contains("SKERRY_FPS"),
        "{log}"
    );
}

#[test]
fn the_desktop_users_programs_cannot_read_the_streamers_environment_or_memory() {
    use std::os::unix::fs::PermissionsExt;
    assert!(
        rustix::process::geteuid().is_root(),
        "this test runs the streamer as another user: it must run as root"
    );
    const USER: &str = "65534";
    // The streamer and its folder where that user can reach them (the build tree may not be).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = dir.path().join("skerry-streamer");
    std::fs::copy(env!("CARGO_BIN_EXE_skerry-streamer"), &bin).expect("copy");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).expect("chown");
    let secret = "owner-secret-7f3a";
    let as_user = |program: &std::path::Path| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", USER, "--regid", USER, "--clear-groups"])
            .arg(program);
        c
    };
    let child = as_user(&bin)
        .env_clear()
        .env("SKERRY_SOURCE", "synthetic")
        .env("SKERRY_PORT", "0")
        .env("SKERRY_AUTH", "on")
        .env("SKERRY_AUTH_PASSWORD", secret)
        .env("SKERRY_CONFIG_DIR", &state)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the streamer starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("the streamer logs where it serves")
            .expect("utf-8 log");
        if line.contains("https://127.0.0.1:") {
            break;
        }
    }
    let pid = running.0.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(USER)),
        "{status}"
    );
    // Another program of the same user: its environment and memory stay closed.
    for file in ["environ", "mem", "maps"] {
        let out = as_user(std::path::Path::new("/bin/cat"))
            .arg(format!("/proc/{pid}/{file}"))
            .output()
            .expect("cat runs");
        assert!(!out.status.success(), "{file} was readable");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(secret),
            "{file} shows the password"
        );
    }
}
