use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::proto::Decoders;
use crate::synthetic::{Scene, SyntheticSource};

fn wait_for(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn config(encoder: EncoderKind) -> PipelineConfig {
    PipelineConfig {
        settings: Settings {
            encoder,
            paint_over_ms: 100,
            ..Settings::default()
        },
        x264_preset: "ultrafast".into(),
        x264_threads: 1,
    }
}

#[test]
fn no_viewer_means_no_encode() {
    let p = Pipeline::start(config(EncoderKind::Jpeg));
    let src = SyntheticSource::start_with_budget(Scene::Typing, 320, 240, 60, p.clone(), Some(5));
    wait_for("frames", Duration::from_secs(10), || {
        p.stats.frames_captured.load(Ordering::Relaxed) >= 5
    });
    assert_eq!(p.stats.encodes.load(Ordering::Relaxed), 0);
    assert!(p.first_frame_seen());
    src.stop();
    p.shutdown();
}

#[test]
fn burst_then_one_refresh_then_silence() {
    let mut cfg = config(EncoderKind::H264);
    // Long enough that a loaded machine does not stall the 30 fps burst past it.
    cfg.settings.paint_over_ms = 300;
    let p = Pipeline::start(cfg);
    let viewer = p.add_viewer(Decoders {
        h264: true,
        h264_444: true,
        jpeg: true,
    });
    let src = SyntheticSource::start_with_budget(Scene::Typing, 320, 240, 30, p.clone(), Some(6));
    p.attach_control(src.clone());
    wait_for("the burst", Duration::from_secs(20), || {
        p.stats.frames_captured.load(Ordering::Relaxed) == 6
    });
    let refreshes_during_burst = p.stats.refreshes.load(Ordering::Relaxed);
    wait_for("the refresh", Duration::from_secs(20), || {
        p.stats.refreshes.load(Ordering::Relaxed) > refreshes_during_burst
    });
    let encodes = p.stats.encodes.load(Ordering::Relaxed);
    // Never more encodes than damage, plus the refreshes.
    let refreshes = p.stats.refreshes.load(Ordering::Relaxed);
    assert!(
        encodes <= 6 + refreshes,
        "{encodes} encodes ({refreshes} refreshes, {} keyframes) for 6 frames",
        p.stats.keyframes.load(Ordering::Relaxed)
    );
    // Quiet desktop: nothing more is encoded. Checking for absence needs some wall time;
    // two paint-over periods is plenty for a stray refresh or timer to show up.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(p.stats.encodes.load(Ordering::Relaxed), encodes);
    assert_eq!(p.stats.refreshes.load(Ordering::Relaxed), refreshes);
    // And the encode thread, long settled, sleeps: no timer, no polling.
    let wakeups = p.stats.wakeups.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(p.stats.wakeups.load(Ordering::Relaxed), wakeups);
    // One format for the whole stream: the viewer's first frame is the only keyframe; the
    // refresh is a P-frame with 4:4:4 JPEG tiles over it.
    assert_eq!(p.stats.keyframes.load(Ordering::Relaxed), 1);
    assert!(p.stats.overlay_tiles.load(Ordering::Relaxed) >= 1);
    drop(viewer);
    src.stop();
    p.shutdown();
}

#[test]
fn settings_change_reaches_source_and_viewers() {
    let p = Pipeline::start(config(EncoderKind::Jpeg));
    let src = SyntheticSource::start(Scene::Typing, 320, 240, 30, p.clone());
    p.attach_control(src.clone());
    let v = p.add_viewer(Decoders::default());
    let patch = SettingsPatch {
        fps: Some(24),
        manual_resolution: Some(Some(proto::Resolution {
            width: 640,
            height: 480,
        })),
        ..Default::default()
    };
    let s = p.apply_settings(&patch).expect("valid");
    assert_eq!(s.fps, 24);
    assert_eq!(src.max_fps(), 24);
    assert_eq!(
        src.mode_requests().last().map(|m| (m.width, m.height)),
        Some((640, 480))
    );
    // A manual resolution wins over the browser's resize.
    p.request_mode(ModeRequest {
        width: 100,
        height: 100,
        scale: 1.0,
    });
    assert_eq!(src.mode_requests().len(), 1);
    assert!(
        p.apply_settings(&SettingsPatch {
            fps: Some(0),
            ..Default::default()
        })
        .is_err()
    );
    drop(v);
    src.stop();
    p.shutdown();
}

/// The messages of the next video packet the viewer is offered.
fn next_packet(viewer: &Viewer, deadline: Duration) -> Arc<Packet> {
    let end = Instant::now() + deadline;
    loop {
        match viewer.poll() {
            Some(fanout::Outgoing::Video(p)) => return p,
            Some(_) => {}
            None => {
                assert!(Instant::now() < end, "no video packet");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[test]
fn an_h264_refresh_is_a_p_frame_with_jpeg_tiles_in_one_packet() {
    let p = Pipeline::start(config(EncoderKind::H264));
    let viewer = p.add_viewer(Decoders {
        h264: true,
        h264_444: false,
        jpeg: true,
    });
    let src = SyntheticSource::start_with_budget(Scene::Typing, 320, 240, 30, p.clone(), Some(3));
    p.attach_control(src.clone());
    let mut seen = Vec::new();
    while seen
        .last()
        .is_none_or(|m: &Vec<VideoHeader>| m[0].flags & proto::flags::REFRESH == 0)
    {
        let packet = next_packet(&viewer, Duration::from_secs(20));
        seen.push(
            packet
                .messages
                .iter()
                .map(|m| VideoHeader::parse(m).expect("a video message").0)
                .collect(),
        );
    }
    let refresh = seen.last().expect("the refresh");
    let (h264, tiles) = refresh.split_first().expect("messages");
    assert_eq!(h264.codec, proto::Codec::H264);
    assert_eq!(
        h264.flags & proto::flags::KEYFRAME,
        0,
        "the refresh is a P-frame"
    );
    assert_ne!(h264.flags & proto::flags::DAMAGE, 0);
    assert_eq!(h264.flags & proto::flags::END_OF_FRAME, 0);
    assert!(!tiles.is_empty());
    for (i, t) in tiles.iter().enumerate() {
        assert_eq!(t.codec, proto::Codec::Jpeg);
        let want = proto::flags::REFRESH | proto::flags::CHROMA444 | proto::flags::OVERLAY;
        assert_eq!(t.flags & want, want, "{t:?}");
        assert_eq!(t.flags & proto::flags::KEYFRAME, 0);
        assert_eq!(
            t.flags & proto::flags::END_OF_FRAME != 0,
            i + 1 == tiles.len(),
            "only the last message ends the frame"
        );
        assert_eq!(t.frame_id, h264.frame_id);
    }
    // The first packet is the viewer's keyframe; every later one is a P-frame.
    assert_ne!(seen[0][0].flags & proto::flags::KEYFRAME, 0);
    assert!(
        seen[1..]
            .iter()
            .all(|m| m[0].flags & proto::flags::KEYFRAME == 0)
    );
    drop(viewer);
    src.stop();
    p.shutdown();
}
