use super::codec::{CHANNELS, CHUNK_FRAMES, Decoder, Encoder, SAMPLE_RATE};
use super::gate::SilenceGate;
use super::hub::AudioHub;
use super::wire::{AudioHeader, HEADER_LEN, KIND_AUDIO, KIND_MIC};
use bytes::Bytes;

#[test]
fn audio_header_golden_bytes() {
    let h = AudioHeader {
        kind: KIND_AUDIO,
        channels: 2,
        sequence: 0x0102_0304,
        capture_us: 0x1122_3344_5566_7788,
    };
    let msg = h.message(&[0xAA, 0xBB]);
    assert_eq!(
        msg,
        [
            0x04, 0x02, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
            0x22, 0x11, 0xAA, 0xBB
        ]
    );
    assert_eq!(AudioHeader::parse(&msg), Some((h, &[0xAA, 0xBB][..])));
    assert_eq!(AudioHeader::parse(&msg[..HEADER_LEN - 1]), None);
    let mic = AudioHeader {
        kind: KIND_MIC,
        ..h
    }
    .message(&[]);
    assert_eq!(mic[0], 0x10);
}

#[test]
fn silence_gate_stops_after_hangover_and_resumes_at_once() {
    let mut gate = SilenceGate::new(8, 3);
    let silent = vec![0i16; 960];
    let quiet = vec![5i16; 960];
    let mut loud = vec![0i16; 960];
    loud[100] = -9;
    // Closed at start: silence sends nothing.
    assert!(!gate.pass(&silent));
    assert!(gate.pass(&loud));
    // The hangover: three silent (or dither-level) chunks still go, then nothing.
    assert!(gate.pass(&silent));
    assert!(gate.pass(&quiet));
    assert!(gate.pass(&silent));
    for _ in 0..100 {
        assert!(!gate.pass(&silent));
    }
    assert!(gate.pass(&loud));
}

fn tone(freq: f64, frames: usize, offset: usize) -> Vec<i16> {
    (0..frames)
        .flat_map(|i| {
            let t = (i + offset) as f64 / SAMPLE_RATE as f64;
            let v = (12_000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
            [v, v]
        })
        .collect()
}

/// Frequency from upward zero crossings of the left channel.
fn frequency(interleaved: &[i16]) -> f64 {
    let left: Vec<i16> = interleaved.iter().step_by(CHANNELS).copied().collect();
    let ups: Vec<usize> = (1..left.len())
        .filter(|&i| left[i - 1] < 0 && left[i] >= 0)
        .collect();
    let (first, last) = (ups[0], ups[ups.len() - 1]);
    (ups.len() - 1) as f64 * SAMPLE_RATE as f64 / (last - first) as f64
}

#[test]
fn opus_round_trip_keeps_the_frequency() {
    let mut enc = Encoder::new(128_000).expect("encoder");
    let mut dec = Decoder::new().expect("decoder");
    let mut decoded = Vec::new();
    let mut total_bytes = 0;
    for chunk in 0..50 {
        let pcm = tone(440.0, CHUNK_FRAMES, chunk * CHUNK_FRAMES);
        let packet = enc.encode(&pcm).expect("encode").to_vec();
        total_bytes += packet.len();
        decoded.extend_from_slice(dec.decode(&packet).expect("decode"));
    }
    assert_eq!(decoded.len(), 50 * CHUNK_FRAMES * CHANNELS);
    // Skip the codec's start-up delay.
    let f = frequency(&decoded[10 * CHUNK_FRAMES * CHANNELS..]);
    assert!((f - 440.0).abs() < 2.0, "{f} Hz");
    let peak = decoded.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak > 8_000, "the tone lost its level: {peak}");
    // About 128 kbit/s for 0.5 s.
    assert!(
        (4_000..=12_000).contains(&total_bytes),
        "{total_bytes} bytes"
    );
}

#[test]
fn bitrate_setting() {
    assert_eq!(super::parse_bitrate("128k").ok(), Some(128_000));
    assert_eq!(super::parse_bitrate("64000").ok(), Some(64_000));
    assert!(super::parse_bitrate("1k").is_err());
    assert!(super::parse_bitrate("loud").is_err());
}

#[tokio::test]
async fn fan_out_is_bounded_and_drops_the_oldest() {
    let hub = AudioHub::default();
    assert!(!hub.has_subscribers());
    let slow = hub.subscribe_with(4);
    let fast = hub.subscribe_with(4);
    assert!(hub.has_subscribers());
    for i in 0u8..10 {
        hub.publish(Bytes::from(vec![i]));
        if i % 2 == 0 {
            // The fast viewer keeps up; its queue never holds more than one.
            assert_eq!(fast.next().await[0], i);
        }
        if i % 2 == 1 {
            assert_eq!(fast.next().await[0], i);
        }
    }
    // The slow one never read: it holds only the newest four, in order.
    assert_eq!(slow.queued(), 4);
    for want in 6u8..10 {
        assert_eq!(slow.next().await[0], want);
    }
    // Both share one encoded buffer per packet: publishing is encode-once.
    drop(slow);
    drop(fast);
    assert!(!hub.has_subscribers());
    hub.publish(Bytes::from_static(b"nobody"));
}
