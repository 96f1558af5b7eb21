//! The scripted workloads: what runs on the desktop and what the viewer does meanwhile.
//! Each is a real Wayland client from Debian (foot, mpv) so the compositor does the work it
//! does for users, and each has a fixed, documented script so runs compare.

use std::path::Path;
use std::time::Duration;

use crate::viewer::Drive;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// A terminal with a directory listing, nothing moving: measured after paint-over.
    Idle,
    /// `cat` of a large text file in a loop, as fast as the terminal scrolls.
    Scroll,
    /// A terminal window dragged left and right by its title bar through the virtual pointer.
    Drag,
    /// mpv playing ffmpeg's `testsrc2` at 1920x1080, 30 fps, full screen.
    Video,
    /// Key presses into `cat` in a terminal every 250 ms; each echo is a latency sample.
    Typing,
}

pub const ALL: [Workload; 5] = [
    Workload::Idle,
    Workload::Scroll,
    Workload::Drag,
    Workload::Video,
    Workload::Typing,
];

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Scroll => "scroll",
            Self::Drag => "drag",
            Self::Video => "video",
            Self::Typing => "typing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|w| w.name() == s)
    }

    /// The client to start, as argv.
    pub fn command(self, big_txt: &Path) -> Vec<String> {
        let foot = |script: &str| -> Vec<String> {
            [
                "foot",
                "--font=DejaVu Sans Mono:pixelsize=14",
                "--",
                "sh",
                "-c",
                script,
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
        };
        match self {
            Self::Idle | Self::Drag => foot("ls -la /usr/bin | head -70; exec sleep 100000"),
            Self::Scroll => foot(&format!("while :; do cat '{}'; done", big_txt.display())),
            Self::Typing => foot("exec cat"),
            Self::Video => [
                "mpv",
                "--no-config",
                "--really-quiet",
                "--no-audio",
                "--loop=inf",
                "--hwdec=no",
                "--osc=no",
                "--osd-level=0",
                "--vo=wlshm",
                "--fs",
                "av://lavfi:testsrc2=size=1920x1080:rate=30",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        }
    }

    /// What the viewer does while measuring.
    pub fn drive(self, width: u32) -> Drive {
        match self {
            Self::Typing => Drive::Typing {
                period: Duration::from_millis(250),
            },
            // The compositor centres the terminal and draws its title bar (28 px) above the
            // content, which starts near (610, 304) for foot's 80x24 cells at 14 px: the
            // press lands in the title bar, clear of the buttons at its right end.
            Self::Drag => Drive::Drag {
                from: (700, 290),
                span: width / 2,
            },
            _ => Drive::Nothing,
        }
    }

    /// The pixelflux driver's name for this workload, where it has one (it injects no input).
    pub fn pixelflux(self) -> Option<&'static str> {
        match self {
            Self::Idle => Some("idle"),
            Self::Scroll => Some("scroll"),
            Self::Video => Some("video"),
            Self::Drag | Self::Typing => None,
        }
    }
}

/// Encoder settings the streamer is measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// H.264 whose paint-over refresh is the P-frame alone (`chroma444` off).
    X264,
    /// The default: H.264 with JPEG 4:4:4 tiles over the paint-over refresh.
    X264Tiles,
    Jpeg,
}

pub const SETTINGS: [Setting; 3] = [Setting::X264, Setting::X264Tiles, Setting::Jpeg];

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Self::X264 => "x264",
            Self::X264Tiles => "x264-tiles",
            Self::Jpeg => "jpeg",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        SETTINGS.into_iter().find(|w| w.name() == s)
    }

    /// The `settings` message for the streamer (docs/protocol.md).
    pub fn message(self) -> serde_json::Value {
        match self {
            Self::X264 => serde_json::json!({"encoder": "h264", "chroma444": false}),
            Self::X264Tiles => serde_json::json!({"encoder": "h264", "chroma444": true}),
            Self::Jpeg => serde_json::json!({"encoder": "jpeg"}),
        }
    }

    /// The pixelflux configuration compared with this setting: its full-frame x264 at CRF 25
    /// with paint-over (it has no 4:4:4 mode), or its striped JPEG.
    pub fn pixelflux(self) -> &'static str {
        match self {
            Self::X264 | Self::X264Tiles => "h264crf",
            Self::Jpeg => "jpeg",
        }
    }
}

/// The text file the scroll workload prints: deterministic, so every run scrolls the same
/// lines (a fixed linear congruential sequence picks the words).
pub fn write_big_txt(path: &Path) -> std::io::Result<()> {
    const WORDS: &[&str] = &[
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
        "aliqua",
        "0123456789",
        "{}[]()<>=+-*/",
    ];
    let mut seed: u64 = 1;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut s = String::with_capacity(20 << 20);
    for i in 0..200_000 {
        s.push_str(&format!("{i:07}"));
        for _ in 0..5 + next(24) {
            s.push(' ');
            s.push_str(WORDS[next(WORDS.len() as u64) as usize]);
        }
        s.push('\n');
    }
    std::fs::write(path, s)
}
