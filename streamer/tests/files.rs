//! Uploads and downloads against the real server bound on 127.0.0.1:0 (plain HTTP, a real
//! hyper client), with real directories: chunked uploads arrive byte-identical, hostile
//! names never write outside the upload directory, downloads honour ranges and refuse
//! traversal and symlinks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use skerry_streamer::files::{Files, FilesConfig};
use skerry_streamer::pipeline::{Pipeline, PipelineConfig};
use skerry_streamer::server::{self, AppState};

const DEADLINE: Duration = Duration::from_secs(60);
const CHUNK: usize = 8 << 20;

struct Server {
    addr: std::net::SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    pipeline: Arc<Pipeline>,
    /// The whole tree the test may write to: `up/`, `down/` and `outside/` live here.
    root: tempfile::TempDir,
}

impl Server {
    async fn start(max_upload: u64) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let pipeline = Pipeline::start(PipelineConfig::default());
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let state = Arc::new(AppState {
            pipeline: pipeline.clone(),
            status_file: None,
            server_name: "skerry-files-test".into(),
            stopping,
            files: Arc::new(Files::new(FilesConfig {
                // created by the first upload
                upload_dir: root.path().join("up"),
                download_dir: root.path().join("down"),
                max_upload,
            })),
            audio: Default::default(),
            auth: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut rx = stop.subscribe();
        let task = tokio::spawn(server::serve(
            listener,
            None,
            state,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
            Duration::from_secs(2),
        ));
        Self {
            addr,
            stop,
            task: Some(task),
            pipeline,
            root,
        }
    }

    fn up(&self) -> PathBuf {
        self.root.path().join("up")
    }

    fn down(&self) -> PathBuf {
        self.root.path().join("down")
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> (u16, hyper::HeaderMap, Bytes) {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("http");
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).expect("request");
        let resp = tokio::time::timeout(DEADLINE, send.send_request(req))
            .await
            .expect("answer before the deadline")
            .expect("response");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, body)
    }

    /// Uploads `data` as `name` in chunks; returns the last status and JSON answer.
    async fn upload(&self, id: &str, name: &str, data: &[u8]) -> (u16, serde_json::Value) {
        let name = encode(name);
        let mut offset = 0;
        loop {
            let end = (offset + CHUNK).min(data.len());
            let path = format!(
                "/api/upload/{id}?name={name}&size={}&offset={offset}",
                data.len()
            );
            let (status, _, body) = self
                .request(
                    "PUT",
                    &path,
                    &[],
                    Bytes::copy_from_slice(&data[offset..end]),
                )
                .await;
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!(
                    "JSON answer, got {status} {:?}",
                    String::from_utf8_lossy(&body)
                )
            });
            if status != 200 || end == data.len() {
                return (status, json);
            }
            assert_eq!(json["offset"], end as u64, "{json}");
            offset = end;
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            tokio::time::timeout(DEADLINE, t)
                .await
                .expect("server stops")
                .expect("no panic");
        }
        self.pipeline.shutdown();
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Deterministic, non-repeating test bytes.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every path below `root`, relative, sorted (symlinks listed, not followed).
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = e.path();
            out.push(
                p.strip_prefix(root)
                    .expect("below root")
                    .to_string_lossy()
                    .into_owned(),
            );
            if e.file_type().expect("type").is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_upload_in_chunks_arrives_byte_identical() {
    let s = Server::start(1 << 30).await;
    let data = pattern(50 * 1000 * 1000, 1);
    let (status, json) = s.upload("big-upload-1", "big.bin", &data).await;
    assert_eq!(status, 201, "{json}");
    assert_eq!(json["name"], "big.bin");
    let got = std::fs::read(s.up().join("big.bin")).expect("uploaded file");
    assert!(got == data, "the uploaded bytes differ");
    assert_eq!(tree(&s.up()), vec!["big.bin"], "no partial file is left");
    s.stop().await;
}

#[tokio::test]
async fn hostile_names_are_reduced_or_refused_and_nothing_lands_outside() {
    let s = Server::start(1 << 20).await;
    std::fs::create_dir_all(s.root.path().join("outside")).expect("mkdir");
    let cases: &[(&str, Option<&str>)] = &[
        ("../../etc/passwd", Some("passwd")),
        ("/abs/path", Some("path")),
        ("a/../../b", Some("b")),
        (".hidden", Some("hidden")),
        ("..", None),
        ("", None),
        ("nul\0byte", None),
        ("../outside/x", Some("x")),
    ];
    for (i, (name, expect)) in cases.iter().enumerate() {
        let (status, json) = s.upload(&format!("hostile-{i:04}"), name, b"payload").await;
        match expect {
            Some(n) => {
                assert_eq!(status, 201, "{name:?}: {json}");
                assert_eq!(json["name"], *n, "{name:?}");
            }
            None => {
                assert_eq!(status, 400, "{name:?}: {json}");
                assert!(
                    json["error"].as_str().is_some_and(|e| !e.is_empty()),
                    "{name:?}: a message explains the refusal: {json}"
                );
            }
        }
    }
    // A name without a `name` parameter, a bad id and broken encoding are refused too.
    let (status, _, _) = s
        .request(
            "PUT",
            "/api/upload/abcdefgh?size=1&offset=0",
            &[],
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = s
        .request(
            "PUT",
            "/api/upload/..?name=a&size=1&offset=0",
            &[],
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = s
        .request(
            "PUT",
            "/api/upload/abcdefgh?name=%FF&size=1&offset=0",
            &[],
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(status, 400);
    let mut all = tree(s.root.path());
    all.sort();
    assert_eq!(
        all,
        vec![
            "outside",
            "up",
            "up/b",
            "up/hidden",
            "up/passwd",
            "up/path",
            "up/x"
        ],
        "only the upload directory was written to"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_existing_name_gets_a_suffix_and_is_never_overwritten() {
    let s = Server::start(1 << 20).await;
    std::fs::create_dir_all(s.up()).expect("mkdir");
    std::fs::write(s.up().join("notes.txt"), b"original").expect("write");
    // A symlink with a taken name is not written through either.
    std::fs::write(s.root.path().join("target"), b"outside").expect("write");
    std::os::unix::fs::symlink(s.root.path().join("target"), s.up().join("link.txt"))
        .expect("symlink");
    let (status, json) = s.upload("dup-000001", "notes.txt", b"first").await;
    assert_eq!(
        (status, json["name"].as_str()),
        (201, Some("notes (1).txt"))
    );
    let (status, json) = s.upload("dup-000002", "notes.txt", b"second").await;
    assert_eq!(
        (status, json["name"].as_str()),
        (201, Some("notes (2).txt"))
    );
    let (status, json) = s.upload("dup-000003", "link.txt", b"third").await;
    assert_eq!((status, json["name"].as_str()), (201, Some("link (1).txt")));
    assert_eq!(
        std::fs::read(s.up().join("notes.txt")).expect("read"),
        b"original"
    );
    assert_eq!(
        std::fs::read(s.up().join("notes (1).txt")).expect("read"),
        b"first"
    );
    assert_eq!(
        std::fs::read(s.up().join("notes (2).txt")).expect("read"),
        b"second"
    );
    assert_eq!(
        std::fs::read(s.root.path().join("target")).expect("read"),
        b"outside"
    );
    s.stop().await;
}

#[tokio::test]
async fn oversize_uploads_and_overlong_chunks_are_refused() {
    let s = Server::start(1000).await;
    let (status, json) = s.upload("size-000001", "big.bin", &[7u8; 1001]).await;
    assert_eq!(status, 413, "{json}");
    assert!(
        json["error"].as_str().is_some_and(|e| e.contains("1000")),
        "{json}"
    );
    // A chunk longer than the declared size is refused, and nothing completes.
    let (status, _, body) = s
        .request(
            "PUT",
            "/api/upload/size-000002?name=a.bin&size=10&offset=0",
            &[],
            Bytes::from(vec![1u8; 20]),
        )
        .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(!s.up().join("a.bin").exists());
    s.stop().await;
}

#[tokio::test]
async fn an_interrupted_upload_resumes_at_the_offset_the_server_holds() {
    let s = Server::start(1 << 20).await;
    let data = pattern(3000, 2);
    let put = |offset: usize, end: usize| {
        let path = format!("/api/upload/resume-0001?name=r.bin&size=3000&offset={offset}");
        let body = Bytes::copy_from_slice(&data[offset..end]);
        let s = &s;
        async move { s.request("PUT", &path, &[], body).await }
    };
    assert_eq!(put(0, 1000).await.0, 200);
    // The client thinks it got further than it did: told where to continue.
    let (status, _, body) = put(2000, 3000).await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("offset 1000"));
    assert_eq!(put(1000, 2000).await.0, 200);
    assert_eq!(put(2000, 3000).await.0, 201);
    assert_eq!(std::fs::read(s.up().join("r.bin")).expect("read"), data);
    // Cancelling removes the partial file.
    assert_eq!(put(0, 10).await.0, 200);
    let (status, _, _) = s
        .request("DELETE", "/api/upload/resume-0001", &[], Bytes::new())
        .await;
    assert_eq!(status, 200);
    assert_eq!(tree(&s.up()), vec!["r.bin"]);
    s.stop().await;
}

#[tokio::test]
async fn downloads_are_byte_identical_with_ranges() {
    let s = Server::start(1 << 20).await;
    std::fs::create_dir_all(s.down().join("sub")).expect("mkdir");
    let data = pattern(1_000_003, 3);
    std::fs::write(s.down().join("sub/r\u{e9}sum\u{e9}.bin"), &data).expect("write");
    std::fs::write(s.down().join("small.txt"), b"hello").expect("write");

    let (status, _, body) = s.request("GET", "/api/files", &[], Bytes::new()).await;
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    let paths: Vec<_> = list["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_owned(),
                f["size"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        vec![
            ("small.txt".to_owned(), Some(5)),
            ("sub/r\u{e9}sum\u{e9}.bin".to_owned(), Some(1_000_003))
        ]
    );

    let url = "/api/files/sub/r%C3%A9sum%C3%A9.bin";
    let (status, h, body) = s.request("GET", url, &[], Bytes::new()).await;
    assert_eq!(status, 200);
    assert!(body == data, "downloaded bytes differ");
    assert_eq!(h["content-length"], "1000003");
    assert_eq!(h["accept-ranges"], "bytes");
    let disp = h["content-disposition"].to_str().expect("ascii");
    assert!(
        disp.starts_with("attachment;") && disp.contains("r%C3%A9sum%C3%A9.bin"),
        "{disp}"
    );

    let (status, h, body) = s
        .request("GET", url, &[("range", "bytes=1000-1999")], Bytes::new())
        .await;
    assert_eq!(status, 206);
    assert_eq!(&body[..], &data[1000..2000]);
    assert_eq!(h["content-range"], "bytes 1000-1999/1000003");
    let (status, _, body) = s
        .request("GET", url, &[("range", "bytes=-3")], Bytes::new())
        .await;
    assert_eq!((status, &body[..]), (206, &data[data.len() - 3..]));
    let (status, h, _) = s
        .request("GET", url, &[("range", "bytes=2000000-")], Bytes::new())
        .await;
    assert_eq!(status, 416);
    assert_eq!(h["content-range"], "bytes */1000003");
    let (status, h, body) = s
        .request("HEAD", "/api/files/small.txt", &[], Bytes::new())
        .await;
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(h["content-length"], "5");
    s.stop().await;
}

#[tokio::test]
async fn downloads_stay_inside_their_directory() {
    let s = Server::start(1 << 20).await;
    std::fs::create_dir_all(s.down().join("sub")).expect("mkdir");
    std::fs::create_dir_all(s.root.path().join("outside")).expect("mkdir");
    std::fs::write(s.root.path().join("outside/secret"), b"secret").expect("write");
    std::os::unix::fs::symlink(s.root.path().join("outside/secret"), s.down().join("link"))
        .expect("symlink");
    std::os::unix::fs::symlink(s.root.path().join("outside"), s.down().join("dirlink"))
        .expect("symlink");
    for (path, want) in [
        ("/api/files/../outside/secret", &[400u16, 404][..]),
        ("/api/files/%2E%2E/outside/secret", &[400]),
        ("/api/files/sub/..%2F..%2Foutside%2Fsecret", &[400]),
        ("/api/files/link", &[403]),
        ("/api/files/dirlink/secret", &[403, 404]),
        ("/api/files/sub", &[404]),
        ("/api/files/missing", &[404]),
    ] {
        let (status, _, body) = s.request("GET", path, &[], Bytes::new()).await;
        assert!(want.contains(&status), "{path}: {status}");
        assert!(
            !body.windows(6).any(|w| w == b"secret"),
            "{path} leaked the file"
        );
    }
    let (_, _, body) = s.request("GET", "/api/files/", &[], Bytes::new()).await;
    let list: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        list["files"],
        serde_json::json!([]),
        "symlinks are not listed"
    );
    // Other methods are refused on the files routes and on the rest of the port.
    let (status, _, _) = s.request("POST", "/api/files/x", &[], Bytes::new()).await;
    assert_eq!(status, 405);
    let (status, _, _) = s.request("PUT", "/healthz", &[], Bytes::new()).await;
    assert_eq!(status, 405);
    s.stop().await;
}

/// A small tmpfs mounted over a folder for one test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Self {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test mounts a small tmpfs to fill a disk: it must run as root"
        );
        std::fs::create_dir_all(dir).expect("mkdir");
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "skerry-test-disk",
            ])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(ok.success(), "mount -t tmpfs failed");
        Self(dir.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_an_upload_at_its_start_and_a_reserved_one_completes() {
    let s = Server::start(16 << 20).await;
    let _disk = SmallDisk::mount(&s.up(), "1m");
    // More than the disk holds: refused before any byte is written, nothing left behind.
    let (status, json) = s
        .upload("full-000001", "big.bin", &pattern(2 << 20, 3))
        .await;
    assert_eq!(status, 507, "{json}");
    let error = json["error"].as_str().unwrap_or_default();
    assert!(error.contains("disk is full"), "{json}");
    assert!(error.contains("2097152 bytes needed"), "{json}");
    assert!(tree(&s.up()).is_empty(), "{:?}", tree(&s.up()));

    // One upload that fits takes its room at the start: a second one that would not fit
    // beside it is refused, and the first completes whole.
    let first = pattern(600 << 10, 4);
    let path = |id: &str, offset: usize, len: usize| {
        format!("/api/upload/{id}?name={id}.bin&size={len}&offset={offset}")
    };
    let (status, _, _) = s
        .request(
            "PUT",
            &path("fits-000001", 0, first.len()),
            &[],
            Bytes::copy_from_slice(&first[..1000]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, json) = s
        .upload("late-000001", "late.bin", &pattern(600 << 10, 5))
        .await;
    assert_eq!(status, 507, "{json}");
    let (status, _, body) = s
        .request(
            "PUT",
            &path("fits-000001", 1000, first.len()),
            &[],
            Bytes::copy_from_slice(&first[1000..]),
        )
        .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        std::fs::read(s.up().join("fits-000001.bin")).expect("read"),
        first
    );
    s.stop().await;
}

#[tokio::test]
async fn one_user_has_a_few_uploads_going_at_once() {
    let s = Server::start(1 << 20).await;
    let start = |n: usize| {
        let path = format!("/api/upload/busy-{n:06}?name=b{n}.bin&size=100&offset=0");
        let s = &s;
        async move {
            let (status, _, body) = s
                .request("PUT", &path, &[], Bytes::from(vec![1u8; 10]))
                .await;
            (status, String::from_utf8_lossy(&body).to_string())
        }
    };
    for n in 0..skerry_streamer::files::MAX_UPLOADS_PER_USER {
        assert_eq!(start(n).await.0, 200);
    }
    let (status, body) = start(99).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("uploads going already"), "{body}");
    // One finished (cancelled) frees a place.
    let (status, _, _) = s
        .request("DELETE", "/api/upload/busy-000000", &[], Bytes::new())
        .await;
    assert_eq!(status, 200);
    assert_eq!(start(99).await.0, 200);
    s.stop().await;
}
