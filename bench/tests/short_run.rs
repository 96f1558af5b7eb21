//! A short run of the whole harness (one workload, a couple of seconds, Skerry only), so the
//! harness cannot rot: it must start the real compositor, foot and streamer, drive typing
//! through the wire protocol and produce a sane table, JSON and plots. It checks that the
//! figures exist and make sense, never that targets are met (the machine may be loaded).
//! The browser column needs the browser tests' venv (web/tests/run.sh creates it); without
//! it the run says why in its JSON and the browser figures are not checked.

use std::process::Command;

#[test]
fn short_typing_run_produces_table_json_and_plots() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = Command::new(env!("CARGO_BIN_EXE_skerry-bench"))
        .args(["--secs", "3", "--settle", "1.5", "--warmup", "0.5"])
        .args([
            "--workloads",
            "typing",
            "--settings",
            "x264-tiles",
            "--pixelflux",
            "off",
            "--browser-keys",
            "6",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("skerry-bench runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "skerry-bench failed\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("| typing | x264-tiles | Skerry |"),
        "table row missing:\n{stdout}"
    );

    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{json:#}");
    let r = &rows[0];
    let f = |k: &str| {
        r[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {r:#}"))
    };
    assert!(f("secs") >= 2.9, "{r:#}");
    // Twelve key presses, each echoed by the terminal: frames must have arrived, each with
    // bytes, and most presses must have a latency sample.
    assert!(f("frames") >= 1.0 && f("bytes_per_s") > 0.0, "{r:#}");
    assert!(f("latency_samples") >= 3.0, "{r:#}");
    // One H.264 format for the whole session: typing after the viewer's start sends no
    // keyframe, whatever the paint-over refreshes in between.
    assert_eq!(f("keyframes"), 0.0, "{r:#}");
    assert!(
        f("latency_p50_ms") > 0.0 && f("latency_p99_ms") >= f("latency_p50_ms"),
        "{r:#}"
    );
    // The streamer's own probe answered most key presses too, and its figure (no loopback
    // hop, no client) cannot exceed the viewer's by much (the viewer may count a frame that
    // was captured just before the key, which the probe skips; hence the slack).
    assert!(f("server_latency_samples") >= 3.0, "{r:#}");
    assert!(
        f("server_latency_p50_ms") > 0.0
            && f("server_latency_p50_ms") <= f("latency_p99_ms") + 100.0,
        "{r:#}"
    );
    let browser = json["meta"]["browser_latency"].as_str().unwrap_or_default();
    if browser == "measured" {
        assert!(f("browser_latency_samples") >= 3.0, "{r:#}");
        assert!(
            f("browser_latency_p50_ms") > 0.0
                && f("browser_latency_p99_ms") >= f("browser_latency_p50_ms"),
            "{r:#}"
        );
    } else {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("browser latency not checked: {browser}");
        }
    }
    assert!(
        r["cpu_s"]["streamer"].as_f64().is_some_and(|c| c > 0.0),
        "{r:#}"
    );
    assert!(
        r["peak_rss_mib"]["compositor"]
            .as_f64()
            .is_some_and(|m| m > 1.0),
        "{r:#}"
    );
    // After paint-over the viewer's picture matches the compositor's closely.
    let psnr = r["y_psnr_refresh_db"]
        .as_f64()
        .unwrap_or_else(|| panic!("no Y-PSNR: {r:#}"));
    assert!(psnr > 30.0, "Y-PSNR {psnr} dB after paint-over: {r:#}");
    for plot in ["bandwidth.png", "cpu.png"] {
        let png = std::fs::read(out.path().join(plot)).expect(plot);
        assert!(png.starts_with(b"\x89PNG"), "{plot} is not a PNG");
    }
}
