use super::*;
use crate::desktop::CursorImage;

#[test]
fn video_header_golden_bytes() {
    let h = VideoHeader {
        codec: Codec::H264,
        flags: flags::KEYFRAME | flags::CHROMA444 | flags::END_OF_FRAME,
        frame_id: 0x0403_0201,
        capture_us: 0x0102_0304_0506_0708,
        x: 0,
        y: 0x0110,
        width: 1920,
        height: 1080,
        frame_width: 1920,
        frame_height: 1080,
    };
    let msg = h.message(&[0xAA, 0xBB]);
    let expected: [u8; 30] = [
        0x01, 0x01, 0x0D, 0x00, // kind, codec, flags, reserved
        0x01, 0x02, 0x03, 0x04, // frame id
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // capture time
        0x00, 0x00, 0x10, 0x01, // x, y
        0x80, 0x07, 0x38, 0x04, // width 1920, height 1080
        0x80, 0x07, 0x38, 0x04, // frame size
        0xAA, 0xBB, // payload
    ];
    assert_eq!(msg, expected);
    let (back, payload) = VideoHeader::parse(&msg).expect("parses");
    assert_eq!(back, h);
    assert_eq!(payload, &[0xAA, 0xBB]);
}

#[test]
fn jpeg_stripe_header_golden_bytes() {
    let h = VideoHeader {
        codec: Codec::Jpeg,
        flags: flags::REFRESH,
        frame_id: 7,
        capture_us: 1000,
        x: 0,
        y: 64,
        width: 1280,
        height: 16,
        frame_width: 1280,
        frame_height: 720,
    };
    let expected: [u8; 28] = [
        0x01, 0x02, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0xE8, 0x03, 0, 0, 0, 0, 0, 0, 0x00, 0x00,
        0x40, 0x00, 0x00, 0x05, 0x10, 0x00, 0x00, 0x05, 0xD0, 0x02,
    ];
    assert_eq!(h.message(&[]), expected);
}

#[test]
fn cursor_messages_golden_bytes() {
    let img = CursorImage {
        serial: 9,
        width: 1,
        height: 2,
        hotspot_x: 1,
        hotspot_y: 0,
        rgba: vec![1, 2, 3, 4, 5, 6, 7, 8],
    };
    let expected: [u8; 24] = [
        0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02,
        0x00, 1, 2, 3, 4, 5, 6, 7, 8,
    ];
    assert_eq!(cursor_image_message(Some(&img)), expected);
    let hidden: [u8; 16] = [0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(cursor_image_message(None), hidden);
    let pos: [u8; 12] = [0x03, 0, 0, 0, 0x0A, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
    assert_eq!(cursor_position_message(10, -1), pos);
}

#[test]
fn oversized_cursor_is_sent_hidden() {
    let img = CursorImage {
        serial: 3,
        width: 300,
        height: 1,
        hotspot_x: 0,
        hotspot_y: 0,
        rgba: vec![0; 1200],
    };
    let msg = cursor_image_message(Some(&img));
    assert_eq!(msg[1], 1);
    assert_eq!(msg.len(), 16);
}

#[test]
fn client_messages_parse_from_documented_json() {
    let cases: Vec<(&str, ClientMessage)> = vec![
        (
            r#"{"type":"hello","version":1,"decoders":{"h264":true,"h264_444":false,"jpeg":true},"width":800,"height":600,"scale":2}"#,
            ClientMessage::Hello {
                version: 1,
                decoders: Decoders {
                    h264: true,
                    h264_444: false,
                    jpeg: true,
                },
                width: Some(800),
                height: Some(600),
                scale: Some(2.0),
            },
        ),
        (
            r#"{"type":"key","code":"KeyA","down":true,"extra":"ignored"}"#,
            ClientMessage::Key {
                code: "KeyA".into(),
                down: true,
            },
        ),
        (
            r#"{"type":"text","text":"é😀"}"#,
            ClientMessage::Text {
                text: "é😀".into()
            },
        ),
        (
            r#"{"type":"pointer","x":10.5,"y":3}"#,
            ClientMessage::Pointer { x: 10.5, y: 3.0 },
        ),
        (
            r#"{"type":"pointer_rel","dx":-1,"dy":2}"#,
            ClientMessage::PointerRel { dx: -1.0, dy: 2.0 },
        ),
        (
            r#"{"type":"button","button":2,"down":false}"#,
            ClientMessage::Button {
                button: 2,
                down: false,
            },
        ),
        (
            r#"{"type":"wheel","dx":0,"dy":3,"mode":1}"#,
            ClientMessage::Wheel {
                dx: 0.0,
                dy: 3.0,
                mode: 1,
            },
        ),
        (r#"{"type":"release_all"}"#, ClientMessage::ReleaseAll),
        (
            r#"{"type":"resize","width":1280,"height":720,"scale":1.5}"#,
            ClientMessage::Resize {
                width: 1280,
                height: 720,
                scale: 1.5,
            },
        ),
        (
            r#"{"type":"settings","fps":30,"manual_resolution":null}"#,
            ClientMessage::Settings(SettingsPatch {
                fps: Some(30),
                manual_resolution: Some(None),
                ..Default::default()
            }),
        ),
        (r#"{"type":"keyframe"}"#, ClientMessage::Keyframe),
        (
            r#"{"type":"ping","t":12.5}"#,
            ClientMessage::Ping { t: 12.5 },
        ),
    ];
    for (json, expected) in cases {
        let parsed = ClientMessage::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(parsed, expected, "{json}");
        // And back: our own serialisation parses to the same message.
        let again = serde_json::to_string(&parsed).expect("serialises");
        assert_eq!(ClientMessage::parse(&again), Ok(expected), "{again}");
    }
}

#[test]
fn settings_patch_distinguishes_absent_from_null() {
    let absent = ClientMessage::parse(r#"{"type":"settings"}"#).expect("parses");
    let set = ClientMessage::parse(
        r#"{"type":"settings","manual_resolution":{"width":1024,"height":768}}"#,
    )
    .expect("parses");
    let ClientMessage::Settings(absent) = absent else {
        panic!("not settings")
    };
    let ClientMessage::Settings(set) = set else {
        panic!("not settings")
    };
    let base = Settings::default().patched(&set).expect("valid");
    assert_eq!(
        base.manual_resolution,
        Some(Resolution {
            width: 1024,
            height: 768
        })
    );
    assert_eq!(base.patched(&absent).expect("valid"), base);
}

#[test]
fn bad_client_messages_map_to_documented_close_codes() {
    let cases: &[(&str, u16)] = &[
        ("{not json", close::POLICY),
        (r#"{"type":"launch_missiles"}"#, close::POLICY),
        (r#"{"type":"key","code":5,"down":true}"#, close::POLICY),
        (r#"{"type":"button","button":9,"down":true}"#, close::POLICY),
        (r#"{"type":"wheel","dx":0,"dy":1,"mode":7}"#, close::POLICY),
        (r#"{"type":"resize","width":1,"height":1}"#, close::POLICY),
        (r#"{"no_type":1}"#, close::POLICY),
    ];
    for (json, code) in cases {
        let err = ClientMessage::parse(json).expect_err(json);
        assert_eq!(err.close_code(), *code, "{json}: {err}");
        assert!(err.close_reason().len() <= 123);
    }
    let long_text = format!(r#"{{"type":"text","text":"{}"}}"#, "a".repeat(5000));
    assert_eq!(
        ClientMessage::parse(&long_text).map_err(|e| e.close_code()),
        Err(close::POLICY)
    );
    let huge = format!(r#"{{"type":"ping","t":1,"pad":"{}"}}"#, "a".repeat(70_000));
    assert_eq!(ClientMessage::parse(&huge), Err(ProtoError::TooBig));
    assert_eq!(ProtoError::TooBig.close_code(), 1009);
    assert_eq!(ProtoError::Binary.close_code(), 1003);
    assert_eq!(ProtoError::Version(2).close_code(), 4001);
}

#[test]
fn settings_validation_refuses_out_of_range_and_applies_nothing() {
    let s = Settings::default();
    let patch = SettingsPatch {
        fps: Some(30),
        motion_crf: Some(60),
        ..Default::default()
    };
    assert!(s.patched(&patch).is_err());
    let ok = SettingsPatch {
        fps: Some(120),
        encoder: Some(EncoderKind::Jpeg),
        ..Default::default()
    };
    let n = s.patched(&ok).expect("valid");
    assert_eq!((n.fps, n.encoder), (120, EncoderKind::Jpeg));
    assert!(
        s.patched(&SettingsPatch {
            fps: Some(121),
            ..Default::default()
        })
        .is_err()
    );
}

#[test]
fn server_messages_golden_json() {
    let hello = ServerMessage::Hello {
        version: 1,
        server: "skerry".into(),
        role: Role::Controller,
        width: 1280,
        height: 720,
        scale: 1.0,
    };
    assert_eq!(
        hello.to_json(),
        r#"{"type":"hello","version":1,"server":"skerry","role":"controller","width":1280,"height":720,"scale":1.0}"#
    );
    assert_eq!(
        ServerMessage::Settings(Settings::default()).to_json(),
        r#"{"type":"settings","encoder":"h264","fps":60,"motion_crf":25,"refresh_crf":18,"jpeg_quality":85,"refresh_jpeg_quality":95,"chroma444":true,"paint_over_ms":250,"manual_resolution":null}"#
    );
    assert_eq!(
        ServerMessage::Pong { t: 5.0 }.to_json(),
        r#"{"type":"pong","t":5.0}"#
    );
    let err = ServerMessage::Error {
        code: "version".into(),
        message: "x".into(),
    };
    assert_eq!(
        err.to_json(),
        r#"{"type":"error","code":"version","message":"x"}"#
    );
    for m in [hello, err, ServerMessage::Settings(Settings::default())] {
        let back: ServerMessage = serde_json::from_str(&m.to_json()).expect("round-trips");
        assert_eq!(back, m);
    }
}

#[test]
fn peers_message_golden_json() {
    let m = ServerMessage::Peers {
        peers: vec![
            crate::proto::PeerInfo {
                identity: "skerry".into(),
                role: Role::Controller,
                you: true,
            },
            crate::proto::PeerInfo {
                identity: "guest #3f2a".into(),
                role: Role::Viewer,
                you: false,
            },
        ],
    };
    assert_eq!(
        m.to_json(),
        r#"{"type":"peers","peers":[{"identity":"skerry","role":"controller","you":true},{"identity":"guest #3f2a","role":"viewer","you":false}]}"#
    );
}

#[test]
fn damage_lists_round_trip_and_bad_ones_are_refused() {
    use crate::desktop::Rect;
    let rects = [Rect::new(16, 32, 48, 16), Rect::new(0, 1072, 1920, 8)];
    let mut msg = Vec::new();
    write_damage(&mut msg, &rects);
    msg.extend_from_slice(&[0, 0, 0, 1, 0x65]);
    assert_eq!(&msg[..2], &[2, 0]);
    assert_eq!(&msg[2..10], &[16, 0, 32, 0, 48, 0, 16, 0]);
    let (back, data) = split_damage(flags::DAMAGE, &msg).expect("parses");
    assert_eq!(back.as_deref(), Some(&rects[..]));
    assert_eq!(data, &[0, 0, 0, 1, 0x65]);
    // Without the flag the payload is codec data only.
    let (none, data) = split_damage(0, &msg).expect("parses");
    assert!(none.is_none());
    assert_eq!(data.len(), msg.len());
    // Truncated, or claiming more rectangles than allowed: an error, not a panic.
    assert!(split_damage(flags::DAMAGE, &[]).is_err());
    assert!(split_damage(flags::DAMAGE, &msg[..9]).is_err());
    let mut many = ((MAX_DAMAGE_RECTS + 1) as u16).to_le_bytes().to_vec();
    many.resize(2 + 8 * (MAX_DAMAGE_RECTS + 1), 0);
    assert!(split_damage(flags::DAMAGE, &many).is_err());
    // A writer never puts more on the wire than a reader takes.
    let lots = vec![Rect::new(0, 0, 1, 1); MAX_DAMAGE_RECTS + 5];
    let mut out = Vec::new();
    write_damage(&mut out, &lots);
    let (back, rest) = split_damage(flags::DAMAGE, &out).expect("parses");
    assert_eq!(back.map(|b| b.len()), Some(MAX_DAMAGE_RECTS));
    assert!(rest.is_empty());
}
