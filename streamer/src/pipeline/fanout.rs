//! Encode once, deliver to every viewer with bounded memory.
//!
//! Each viewer holds at most one unsent video frame, the latest cursor image and position,
//! and a short queue of control messages. A viewer whose socket falls behind loses frames:
//! since later frames reference the lost ones, it then takes nothing but a keyframe, and
//! asks for one only once it has caught up (its socket drained), so a slow viewer costs the
//! others at most one keyframe per catch-up rather than one per skipped frame.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::proto::Decoders;

/// Control messages a viewer may have queued before it is considered stuck.
const MAX_CONTROL: usize = 256;

/// One encoded frame, as wire messages ready to send.
#[derive(Debug)]
pub struct Packet {
    pub frame_id: u32,
    pub keyframe: bool,
    pub messages: Vec<Bytes>,
}

/// What a viewer's connection should send next.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    Binary(Bytes),
    Video(Arc<Packet>),
    /// The viewer skipped frames and has caught up: it needs a keyframe.
    NeedKeyframe,
    /// The viewer could not keep up even with control messages.
    Stuck,
}

#[derive(Default)]
struct ViewerState {
    video: Option<Arc<Packet>>,
    cursor_image: Option<Bytes>,
    cursor_pos: Option<Bytes>,
    /// Latest clipboard message per selection (clipboard, primary).
    clipboard: [Option<Bytes>; 2],
    control: VecDeque<String>,
    need_key: bool,
    key_asked: bool,
    stuck: bool,
}

pub struct Viewer {
    pub id: u64,
    pub decoders: Decoders,
    state: Mutex<ViewerState>,
    notify: Notify,
    pub skipped: AtomicU64,
}

impl Viewer {
    fn new(id: u64, decoders: Decoders) -> Self {
        Self {
            id,
            decoders,
            // A new viewer can only start from a keyframe.
            state: Mutex::new(ViewerState {
                need_key: true,
                key_asked: true,
                ..Default::default()
            }),
            notify: Notify::new(),
            skipped: AtomicU64::new(0),
        }
    }

    fn with_state(&self, f: impl FnOnce(&mut ViewerState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
        self.notify.notify_one();
    }

    /// Offers an encoded frame; latest wins.
    pub fn offer(&self, packet: &Arc<Packet>) {
        let mut skipped = false;
        self.with_state(|s| {
            if packet.keyframe {
                s.video = Some(packet.clone());
                s.need_key = false;
                s.key_asked = false;
            } else if s.need_key {
                skipped = true;
            } else if s.video.is_some() {
                // The unsent frame is lost, and this one references it.
                s.video = None;
                s.need_key = true;
                s.key_asked = false;
                skipped = true;
            } else {
                s.video = Some(packet.clone());
            }
        });
        if skipped {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn send_text(&self, text: String) {
        self.with_state(|s| {
            if s.control.len() >= MAX_CONTROL {
                s.stuck = true;
            } else {
                s.control.push_back(text);
            }
        });
    }

    pub fn send_cursor_image(&self, msg: Bytes) {
        self.with_state(|s| s.cursor_image = Some(msg));
    }

    pub fn send_cursor_position(&self, msg: Bytes) {
        self.with_state(|s| s.cursor_pos = Some(msg));
    }

    /// A selection changed; only the latest content of each selection is kept.
    pub fn send_clipboard(&self, selection: crate::clipboard::Selection, msg: Bytes) {
        self.with_state(|s| s.clipboard[usize::from(selection.wire())] = Some(msg));
    }

    pub(crate) fn poll(&self) -> Option<Outgoing> {
        let mut s = self.state.lock().ok()?;
        if s.stuck {
            return Some(Outgoing::Stuck);
        }
        if let Some(t) = s.control.pop_front() {
            return Some(Outgoing::Text(t));
        }
        if let Some(c) = s.cursor_image.take() {
            return Some(Outgoing::Binary(c));
        }
        if let Some(c) = s.clipboard.iter_mut().find_map(Option::take) {
            return Some(Outgoing::Binary(c));
        }
        if let Some(v) = s.video.take() {
            return Some(Outgoing::Video(v));
        }
        if let Some(c) = s.cursor_pos.take() {
            return Some(Outgoing::Binary(c));
        }
        if s.need_key && !s.key_asked {
            s.key_asked = true;
            return Some(Outgoing::NeedKeyframe);
        }
        None
    }

    /// Waits for the next thing to send.
    pub async fn next(&self) -> Outgoing {
        loop {
            let notified = self.notify.notified();
            if let Some(o) = self.poll() {
                return o;
            }
            notified.await;
        }
    }
}

/// The set of connected viewers.
#[derive(Default)]
pub struct Fanout {
    viewers: Mutex<Vec<Arc<Viewer>>>,
    next_id: AtomicU64,
}

impl Fanout {
    pub fn add(&self, decoders: Decoders) -> Arc<Viewer> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let v = Arc::new(Viewer::new(id, decoders));
        if let Ok(mut list) = self.viewers.lock() {
            list.push(v.clone());
        }
        v
    }

    pub fn remove(&self, id: u64) {
        if let Ok(mut list) = self.viewers.lock() {
            list.retain(|v| v.id != id);
        }
    }

    pub fn viewers(&self) -> Vec<Arc<Viewer>> {
        self.viewers.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.viewers.lock().map(|l| l.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn publish(&self, packet: &Arc<Packet>) {
        for v in self.viewers() {
            v.offer(packet);
        }
    }

    pub fn broadcast_text(&self, text: &str) {
        for v in self.viewers() {
            v.send_text(text.to_owned());
        }
    }

    pub fn broadcast_cursor_image(&self, msg: &Bytes) {
        for v in self.viewers() {
            v.send_cursor_image(msg.clone());
        }
    }

    pub fn broadcast_cursor_position(&self, msg: &Bytes) {
        for v in self.viewers() {
            v.send_cursor_position(msg.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(id: u32, keyframe: bool) -> Arc<Packet> {
        Arc::new(Packet {
            frame_id: id,
            keyframe,
            messages: vec![Bytes::from(vec![id as u8])],
        })
    }

    fn drain(v: &Viewer) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(o) = v.poll() {
            let item = match o {
                Outgoing::Video(p) => {
                    format!("v{}{}", p.frame_id, if p.keyframe { "k" } else { "" })
                }
                Outgoing::NeedKeyframe => "need-key".into(),
                Outgoing::Text(t) => t,
                Outgoing::Binary(_) => "bin".into(),
                Outgoing::Stuck => "stuck".into(),
            };
            let stuck = item == "stuck";
            out.push(item);
            if stuck {
                break;
            }
        }
        out
    }

    #[test]
    fn new_viewer_waits_for_a_keyframe() {
        let f = Fanout::default();
        let v = f.add(Decoders::default());
        f.publish(&packet(1, false));
        assert!(drain(&v).is_empty());
        f.publish(&packet(2, true));
        f.publish(&packet(3, false));
        // 2 was not sent yet when 3 came: 3 is dropped with it and a key is needed.
        assert_eq!(drain(&v), vec!["need-key"]);
        f.publish(&packet(4, false));
        assert!(drain(&v).is_empty());
        f.publish(&packet(5, true));
        assert_eq!(drain(&v), vec!["v5k"]);
        f.publish(&packet(6, false));
        assert_eq!(drain(&v), vec!["v6"]);
        assert_eq!(v.skipped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn slow_viewer_skips_without_holding_more_than_one_frame() {
        let f = Fanout::default();
        let fast = f.add(Decoders::default());
        let slow = f.add(Decoders::default());
        f.publish(&packet(1, true));
        assert_eq!(drain(&fast), vec!["v1k"]);
        assert_eq!(drain(&slow), vec!["v1k"]);
        for id in 2..100 {
            f.publish(&packet(id, false));
            assert_eq!(drain(&fast), vec![format!("v{id}")]);
        }
        // The slow viewer held one frame, lost it, and now asks for a key exactly once.
        assert_eq!(drain(&slow), vec!["need-key"]);
        assert!(drain(&slow).is_empty());
        f.publish(&packet(100, true));
        assert_eq!(drain(&slow), vec!["v100k"]);
    }

    #[test]
    fn control_queue_is_bounded() {
        let f = Fanout::default();
        let v = f.add(Decoders::default());
        for i in 0..=MAX_CONTROL {
            f.broadcast_text(&i.to_string());
        }
        assert_eq!(drain(&v).first().map(String::as_str), Some("stuck"));
    }
}
