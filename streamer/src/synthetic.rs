//! A deterministic desktop source for tests and benchmarks, so encoders, pipeline and server
//! run without a compositor. Frame `n` of a scene is always the same picture, and each frame
//! reports exactly the damage that produced it.
//!
//! The text scenes draw glyph-like strokes (1–2 px, high contrast, on white), the worst case
//! for lossy video and the content paint-over exists for.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::desktop::{
    CaptureEvent, CaptureSink, CursorImage, DesktopControl, Frame, InputEvent, ModeRequest,
    PixelFormat, Rect,
};

const CELL_W: u32 = 8;
const CELL_H: u32 = 16;
const LINE_H: u32 = 18;
const GLYPHS: usize = 96;
/// Rows at the bottom that never scroll (a status bar), so scroll damage is not the whole frame.
const STATUS_H: u32 = 24;

/// What the synthetic desktop shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// A page of text; after the first frame one character is typed per frame.
    Typing,
    /// Text scrolling up by `rows` pixel rows a frame above a fixed status bar.
    Scroll { rows: u32 },
    /// The whole screen moves: a drifting gradient with text sliding across it.
    Motion,
}

fn hash(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Glyph bitmaps: one byte (8 pixels) per row, 16 rows. Index 0 is a space.
fn make_glyphs() -> Vec<[u8; CELL_H as usize]> {
    (0..GLYPHS)
        .map(|i| {
            let mut g = [0u8; CELL_H as usize];
            if i == 0 {
                return g;
            }
            let h = hash(i as u64 + 1);
            // A stem, a bowl or bar or two, and sometimes a descender, like real letters.
            let stem = 1 + (h % 5) as u32;
            let top = 3 + ((h >> 4) % 3) as usize;
            for row in g.iter_mut().take(13).skip(top) {
                *row |= 0x80 >> stem;
            }
            for k in 0..2 {
                let bar = 4 + ((h >> (8 + 4 * k)) % 9) as usize;
                let x0 = (h >> (20 + 3 * k)) % 3;
                let len = 3 + (h >> (26 + 2 * k)) % 3;
                for x in x0..(x0 + len).min(7) {
                    g[bar] |= 0x80 >> x;
                }
            }
            if (h >> 40).is_multiple_of(4) {
                let x = 1 + ((h >> 42) % 6) as u32;
                for row in g.iter_mut().take(13).skip(5) {
                    *row |= 0x80 >> x;
                }
            }
            if (h >> 44).is_multiple_of(6) {
                for row in g.iter_mut().take(15).skip(12) {
                    *row |= 0x80 >> stem;
                }
            }
            g
        })
        .collect()
}

/// Colours of text lines, in B, G, R.
const INKS: [[u8; 3]; 4] = [[0, 0, 0], [0, 0, 0], [150, 40, 20], [20, 20, 170]];

/// Renders frames of a [`Scene`].
pub struct SyntheticScreen {
    pub width: u32,
    pub height: u32,
    scene: Scene,
    glyphs: Vec<[u8; CELL_H as usize]>,
    next: u64,
}

impl SyntheticScreen {
    pub fn new(scene: Scene, width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            scene,
            glyphs: make_glyphs(),
            next: 0,
        }
    }

    /// The glyph at text line `line`, column `col` of the document.
    fn glyph_at(&self, line: u64, col: u64) -> usize {
        let h = hash(line.wrapping_mul(0x9E37_79B9) ^ col.wrapping_add(7));
        // Words of 2–9 letters with spaces; lines end ragged.
        let line_len = 40 + hash(line) % 80;
        if col >= line_len || h.is_multiple_of(7) {
            0
        } else {
            1 + (h as usize >> 8) % (GLYPHS - 1)
        }
    }

    /// Draws one row of text into `row` (BGRA), document row `doc_y`, shifted left by `dx`.
    fn text_row(&self, row: &mut [u8], doc_y: u64, dx: u32, typed: Option<(u64, u64)>) {
        let line = doc_y / u64::from(LINE_H);
        let in_line = (doc_y % u64::from(LINE_H)) as usize;
        if in_line >= CELL_H as usize {
            return;
        }
        let ink = INKS[(hash(line ^ 0x55) % 4) as usize];
        let width = row.len() as u32 / 4;
        if width == 0 {
            return;
        }
        // One glyph lookup per cell, not per pixel: this source also runs in debug builds.
        let first = dx / CELL_W;
        let last = (dx + width - 1) / CELL_W;
        for col in first..=last {
            let g = match typed {
                Some((tl, limit)) if tl == line && u64::from(col) >= limit => 0,
                _ => self.glyph_at(line, u64::from(col)),
            };
            let bits = self.glyphs[g][in_line];
            if bits == 0 {
                continue;
            }
            for b in 0..CELL_W {
                let doc_x = col * CELL_W + b;
                if bits & (0x80 >> b) == 0 || doc_x < dx || doc_x >= dx + width {
                    continue;
                }
                let p = ((doc_x - dx) * 4) as usize;
                row[p..p + 3].copy_from_slice(&ink);
            }
        }
    }

    /// Frame number `n` of the scene, with the damage since frame `n - 1`.
    pub fn render(&self, n: u64) -> Frame {
        let (w, h) = (self.width, self.height);
        let stride = w * 4;
        let mut px = vec![255u8; (stride * h) as usize];
        let full = Rect::new(0, 0, w, h);
        let damage = match self.scene {
            Scene::Typing => {
                // Line `k` of the screen shows document line `k`; the last text line is
                // being typed, one character per frame.
                let lines = u64::from(h / LINE_H).max(1);
                let cols = u64::from(w / CELL_W).max(1);
                let typing_line = lines - 1;
                let typed = n % cols;
                for (y, row) in px.chunks_exact_mut(stride as usize).enumerate() {
                    self.text_row(row, y as u64, 0, Some((typing_line, typed + 1)));
                }
                let x = (typed as u32) * CELL_W;
                let y = typing_line as u32 * LINE_H;
                if n == 0 || typed == 0 {
                    full
                } else {
                    Rect::new(x, y, CELL_W.min(w - x), CELL_H.min(h - y))
                }
            }
            Scene::Scroll { rows } => {
                let area = h.saturating_sub(STATUS_H);
                for (y, row) in px.chunks_exact_mut(stride as usize).enumerate() {
                    let y = y as u32;
                    if y < area {
                        self.text_row(row, u64::from(y) + n * u64::from(rows), 0, None);
                    } else {
                        for p in row.chunks_exact_mut(4) {
                            p[..3].copy_from_slice(&[80, 60, 40]);
                        }
                        self.text_row(row, u64::from(y - area) + 1_000_000, 0, None);
                    }
                }
                if n == 0 {
                    full
                } else {
                    Rect::new(0, 0, w, area)
                }
            }
            Scene::Motion => {
                let t = n as u32;
                for (y, row) in px.chunks_exact_mut(stride as usize).enumerate() {
                    let y = y as u32;
                    for (x, p) in row.chunks_exact_mut(4).enumerate() {
                        let x = x as u32;
                        p[0] = ((x + 3 * t) / 4) as u8;
                        p[1] = ((y + 2 * t) / 3) as u8;
                        p[2] = ((x + y + 5 * t) / 6) as u8;
                    }
                    self.text_row(row, u64::from(y), 7 * t, None);
                }
                full
            }
        };
        Frame {
            width: w,
            height: h,
            stride,
            format: PixelFormat::Bgrx8888,
            pixels: Box::new(px),
            damage: vec![damage],
            captured_at: Instant::now(),
        }
    }

    /// The next frame in sequence.
    pub fn next_frame(&mut self) -> Frame {
        let f = self.render(self.next);
        self.next += 1;
        f
    }
}

struct ControlState {
    stop: bool,
    full_frame: bool,
    mode: Option<ModeRequest>,
    fps: u32,
    /// Frames still to deliver before going quiet (`None`: forever).
    budget: Option<u64>,
}

/// A running synthetic source: a thread delivering frames of a scene to a sink at a
/// paced rate, driven through [`DesktopControl`]. Input it receives is recorded.
pub struct SyntheticSource {
    state: Arc<(Mutex<ControlState>, Condvar)>,
    inputs: Arc<Mutex<Vec<InputEvent>>>,
    modes: Arc<Mutex<Vec<ModeRequest>>>,
    fps_cap: Arc<AtomicU32>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl SyntheticSource {
    /// Starts delivering frames of `scene` at `fps` into `sink`, without end.
    pub fn start(
        scene: Scene,
        width: u32,
        height: u32,
        fps: u32,
        sink: Arc<dyn CaptureSink>,
    ) -> Arc<Self> {
        Self::start_with_budget(scene, width, height, fps, sink, None)
    }

    /// Like [`Self::start`], but goes quiet after `budget` frames (`None`: never).
    pub fn start_with_budget(
        scene: Scene,
        width: u32,
        height: u32,
        fps: u32,
        sink: Arc<dyn CaptureSink>,
        budget: Option<u64>,
    ) -> Arc<Self> {
        let state = Arc::new((
            Mutex::new(ControlState {
                stop: false,
                full_frame: false,
                mode: None,
                fps: fps.max(1),
                budget,
            }),
            Condvar::new(),
        ));
        let fps_cap = Arc::new(AtomicU32::new(fps.max(1)));
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("synthetic-source".into())
            .spawn(move || run(st, scene, width, height, sink))
            .ok();
        Arc::new(Self {
            state,
            inputs: Arc::default(),
            modes: Arc::default(),
            fps_cap,
            thread: Mutex::new(thread),
        })
    }

    fn update(&self, f: impl FnOnce(&mut ControlState)) {
        let (lock, cv) = &*self.state;
        if let Ok(mut s) = lock.lock() {
            f(&mut s);
        }
        cv.notify_all();
    }

    /// Input events received so far.
    pub fn inputs(&self) -> Vec<InputEvent> {
        self.inputs.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Mode requests received so far.
    pub fn mode_requests(&self) -> Vec<ModeRequest> {
        self.modes.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn max_fps(&self) -> u32 {
        self.fps_cap.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for it.
    pub fn stop(&self) {
        self.update(|s| s.stop = true);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Drop for SyntheticSource {
    fn drop(&mut self) {
        self.stop();
    }
}

impl DesktopControl for SyntheticSource {
    fn inject(&self, event: InputEvent) {
        if let Ok(mut v) = self.inputs.lock() {
            v.push(event);
        }
    }

    fn set_mode(&self, mode: ModeRequest) {
        if let Ok(mut v) = self.modes.lock() {
            v.push(mode);
        }
        self.update(|s| s.mode = Some(mode));
    }

    fn set_max_fps(&self, fps: u32) {
        self.fps_cap.store(fps.max(1), Ordering::Relaxed);
        self.update(|s| s.fps = s.fps.min(fps.max(1)));
    }

    fn request_full_frame(&self) {
        self.update(|s| s.full_frame = true);
    }
}

/// A 12x16 arrow: black outline, white fill, hotspot at the tip.
pub fn arrow_cursor() -> CursorImage {
    let (w, h) = (12u32, 16u32);
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for y in 0..h {
        // The arrow's right edge runs diagonally down to row 11, then a short tail.
        let edge = if y < 12 { y } else { 0 };
        for x in 0..=edge.min(w - 1) {
            let p = ((y * w + x) * 4) as usize;
            let outline = x == 0 || x == edge || y == 11;
            let v = if outline { 0 } else { 255 };
            rgba[p..p + 4].copy_from_slice(&[v, v, v, 255]);
        }
    }
    CursorImage {
        serial: 1,
        width: w,
        height: h,
        hotspot_x: 0,
        hotspot_y: 0,
        rgba,
    }
}

fn run(
    state: Arc<(Mutex<ControlState>, Condvar)>,
    scene: Scene,
    width: u32,
    height: u32,
    sink: Arc<dyn CaptureSink>,
) {
    let (lock, cv) = &*state;
    let mut screen = SyntheticScreen::new(scene, width, height);
    sink.deliver(CaptureEvent::Cursor(Some(arrow_cursor())));
    sink.deliver(CaptureEvent::CursorPosition {
        x: (width / 2) as i32,
        y: (height / 2) as i32,
    });
    let mut next_due = Instant::now();
    loop {
        let (full, mode) = {
            let Ok(mut s) = lock.lock() else { return };
            loop {
                if s.stop {
                    return;
                }
                let now = Instant::now();
                let active = s.budget != Some(0);
                if active && now >= next_due {
                    break;
                }
                if !active && (s.full_frame || s.mode.is_some()) {
                    break;
                }
                s = if active {
                    match cv.wait_timeout(s, next_due - now) {
                        Ok((g, _)) => g,
                        Err(_) => return,
                    }
                } else {
                    match cv.wait(s) {
                        Ok(g) => g,
                        Err(_) => return,
                    }
                };
            }
            if let Some(b) = s.budget.as_mut() {
                *b = b.saturating_sub(1);
            }
            let interval = Duration::from_secs(1) / s.fps.max(1);
            // Pace against deadlines so the rate does not drift; never catch up in bursts.
            next_due = (next_due + interval).max(Instant::now());
            (std::mem::take(&mut s.full_frame), s.mode.take())
        };
        if let Some(m) = mode {
            screen = SyntheticScreen::new(scene, m.width, m.height);
            sink.deliver(CaptureEvent::Mode {
                width: m.width,
                height: m.height,
                scale: m.scale,
            });
        }
        let mut frame = screen.next_frame();
        if full {
            frame.damage = vec![Rect::new(0, 0, frame.width, frame.height)];
        }
        sink.deliver(CaptureEvent::Frame(frame));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(damage: &[Rect], x: u32, y: u32) -> bool {
        damage
            .iter()
            .any(|r| x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height)
    }

    #[test]
    fn frames_are_deterministic_and_damage_is_exact() {
        for scene in [Scene::Typing, Scene::Scroll { rows: 3 }, Scene::Motion] {
            let screen = SyntheticScreen::new(scene, 203, 97);
            let first = screen.render(0);
            assert_eq!(first.damage, vec![Rect::new(0, 0, 203, 97)]);
            assert_eq!(first.pixels.bytes(), screen.render(0).pixels.bytes());
            let mut prev = first;
            for n in 1..6 {
                let f = screen.render(n);
                let (a, b) = (prev.pixels.bytes(), f.pixels.bytes());
                let mut changed = 0;
                for y in 0..97 {
                    for x in 0..203 {
                        let p = (y * f.stride + x * 4) as usize;
                        if a[p..p + 4] != b[p..p + 4] {
                            changed += 1;
                            assert!(inside(&f.damage, x, y), "{scene:?} frame {n}: ({x},{y})");
                        }
                    }
                }
                assert!(changed > 0, "{scene:?} frame {n} changes something");
                prev = f;
            }
        }
    }

    #[test]
    fn text_is_high_contrast_strokes_on_white() {
        let f = SyntheticScreen::new(Scene::Typing, 320, 200).render(3);
        let px = f.pixels.bytes();
        let white = px
            .chunks_exact(4)
            .filter(|p| p[..3] == [255, 255, 255])
            .count();
        let ink = px
            .chunks_exact(4)
            .filter(|p| p[0].max(p[1]).max(p[2]) <= 170)
            .count();
        let total = px.len() / 4;
        assert!(white > total * 6 / 10, "mostly white: {white}/{total}");
        assert!(ink > total / 20, "plenty of strokes: {ink}/{total}");
        assert_eq!(white + ink, total, "nothing but paper and ink");
    }
}
