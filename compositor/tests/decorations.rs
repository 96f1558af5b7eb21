//! Server-side decorations and compositor shortcuts, in-process with real `wayland-client`
//! clients: the title bar is drawn above the content, its buttons and edges act, and
//! Alt+Tab, Alt+F4 and the Super tap are taken by the compositor.

mod harness;

use std::sync::{Arc, Mutex};

use harness::Harness;
use skerry_compositor::{
    decoration::{BUTTON_W, Palette, TITLE_H},
    layout::Rect,
};
use wayland_client::Proxy;
use wayland_protocols::xdg::shell::client::xdg_toplevel;
use wayland_protocols_wlr::layer_shell::v1::client::{zwlr_layer_shell_v1, zwlr_layer_surface_v1};

const KEY_TAB: u32 = 15;
const KEY_LEFTALT: u32 = 56;
const KEY_F4: u32 = 62;
const KEY_LEFTMETA: u32 = 125;
const KEY_A: u32 = 30;

/// B,G,R,A bytes of an opaque 0xAARRGGBB colour.
fn bgra(argb: u32) -> [u8; 4] {
    let b = argb.to_le_bytes();
    [b[0], b[1], b[2], b[3]]
}

/// A decorated window of `w` x `h` content, mapped; returns it and its frame.
fn mapped(h: &mut Harness, title: &'static str, w: i32, ht: i32) -> (harness::Window, Rect) {
    let win = h.decorated_toplevel(title);
    assert_eq!(
        h.client.decoration_modes.last(),
        Some(&true),
        "server-side granted"
    );
    h.show(&win, w, ht);
    let id = h.window_id(title);
    (win, h.rect(id))
}

fn drag(h: &mut Harness, from: (f64, f64), to: (f64, f64)) {
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(from.0, from.1);
        s.pointer_frame();
        s.pointer_button(0x110, true);
        s.pointer_frame();
        for i in 1..=4 {
            let t = f64::from(i) / 4.0;
            s.pointer_motion_absolute(from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            s.pointer_frame();
        }
        s.pointer_button(0x110, false);
        s.pointer_frame();
    });
    h.roundtrip();
}

#[test]
fn server_side_window_gets_a_title_bar_above_its_content() {
    let mut h = Harness::new();
    let (w, frame) = mapped(&mut h, "ssd", 400, 300);
    assert_eq!(
        (frame.w, frame.h),
        (400, 300 + TITLE_H),
        "frame = title + content"
    );
    let content = 0xff3366cc;
    // Title-bar colour in the bar (left of the text), the client's colour below it.
    assert_eq!(
        h.pixel(frame.x + 3, frame.y + TITLE_H / 2),
        bgra(Palette::ACTIVE.title)
    );
    assert_eq!(h.pixel(frame.x + 3, frame.y + TITLE_H + 3), bgra(content));
    // The border just outside the frame.
    assert_eq!(
        h.pixel(frame.x - 1, frame.y + 100),
        bgra(Palette::ACTIVE.border)
    );
    // The title text is drawn: some pixel in the text area is close to the text colour.
    let text = h.compositor.with_state(move |s| {
        let img = s.backend.image();
        let mut bright = 0;
        for y in frame.y..frame.y + TITLE_H {
            for x in frame.x + 8..frame.x + 60 {
                let off = (y as u32 * img.stride + x as u32 * 4) as usize;
                if img.bytes[off + 1] > 200 {
                    bright += 1;
                }
            }
        }
        bright
    });
    assert!(text > 10, "title text pixels: {text}");
    // A new title is drawn: the text area changes.
    let title_area = |h: &mut Harness| {
        h.pixel(frame.x, frame.y);
        h.compositor.with_state(move |s| {
            let img = s.backend.image();
            let mut bytes = Vec::new();
            for y in frame.y..frame.y + TITLE_H {
                let off = (y as u32 * img.stride + frame.x as u32 * 4) as usize;
                bytes.extend_from_slice(&img.bytes[off..off + 200 * 4]);
            }
            bytes
        })
    };
    let before = title_area(&mut h);
    w.toplevel.set_title("A much longer title".into());
    w.surface.commit();
    h.roundtrip();
    assert_ne!(
        title_area(&mut h),
        before,
        "title bar redrawn with the new title"
    );
    // A second window takes focus: the first bar turns inactive.
    let b = h.toplevel("plain");
    h.show(&b, 100, 100);
    assert_eq!(
        h.pixel(frame.x + 3, frame.y + TITLE_H / 2),
        bgra(Palette::INACTIVE.title)
    );
}

#[test]
fn client_side_request_gets_no_title_bar() {
    let mut h = Harness::new();
    let w = h.toplevel("csd");
    h.show(&w, 400, 300);
    let frame = h.rect(h.window_id("csd"));
    assert_eq!((frame.w, frame.h), (400, 300));
    assert_eq!(h.pixel(frame.x + 3, frame.y + 3), bgra(0xff3366cc));
}

#[test]
fn close_button_sends_close_and_clicks_stay_with_the_compositor() {
    let mut h = Harness::new();
    let (w, frame) = mapped(&mut h, "closing", 400, 300);
    h.client.pointer_events.clear();
    let x = f64::from(frame.x + frame.w - BUTTON_W / 2);
    let y = f64::from(frame.y + TITLE_H / 2);
    h.click(x, y);
    assert_eq!(h.client.closes, vec![w.index], "xdg_toplevel.close sent");
    assert!(
        !h.client
            .pointer_events
            .iter()
            .any(|e| matches!(e, harness::PointerEvent::Button { .. })),
        "the client saw no button: {:?}",
        h.client.pointer_events
    );
}

#[test]
fn dragging_the_title_bar_moves_the_window() {
    let mut h = Harness::new();
    let (_w, frame) = mapped(&mut h, "mover", 400, 300);
    let id = h.window_id("mover");
    let from = (f64::from(frame.x + 60), f64::from(frame.y + 10));
    drag(&mut h, from, (from.0 - 150.0, from.1 + 70.0));
    let r = h.rect(id);
    assert_eq!(
        (r.x, r.y, r.w, r.h),
        (frame.x - 150, frame.y + 70, frame.w, frame.h)
    );
    assert!(
        !h.compositor
            .with_state(|s| s.seat.get_pointer().is_some_and(|p| p.is_grabbed()))
    );
}

#[test]
fn dragging_the_right_edge_resizes() {
    let mut h = Harness::new();
    let (w, frame) = mapped(&mut h, "sizer", 400, 300);
    let from = (f64::from(frame.x + frame.w + 2), f64::from(frame.y + 150));
    drag(&mut h, from, (from.0 + 120.0, from.1));
    let (cw, ch, _) = h.last_configure(&w);
    assert_eq!((cw, ch), (520, 300), "configure excludes the title bar");
}

#[test]
fn double_click_maximizes_and_restores() {
    let mut h = Harness::new();
    let (w, frame) = mapped(&mut h, "maxi", 400, 300);
    let (x, y) = (f64::from(frame.x + 60), f64::from(frame.y + 10));
    h.click(x, y);
    h.click(x, y);
    let (cw, ch, states) = h.last_configure(&w);
    assert!(states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!(
        (cw, ch),
        (1920, 1080 - TITLE_H),
        "usable area minus the title bar"
    );
    h.show(&w, cw, ch);
    let id = h.window_id("maxi");
    assert_eq!(h.rect(id), Rect::new(0, 0, 1920, 1080));
    // The maximize button restores.
    h.click(f64::from(1920 - BUTTON_W - BUTTON_W / 2), 10.0);
    let (cw, ch, states) = h.last_configure(&w);
    assert!(!states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (400, 300));
}

#[test]
fn minimize_hides_and_activate_restores() {
    let mut h = Harness::new();
    let (_w, frame) = mapped(&mut h, "mini", 400, 300);
    let id = h.window_id("mini");
    h.click(
        f64::from(frame.x + frame.w - 2 * BUTTON_W - BUTTON_W / 2),
        f64::from(frame.y + 10),
    );
    let (minimized, focus) = h
        .compositor
        .with_state(move |s| (s.layout.get(id).map(|w| w.minimized), s.layout.focus()));
    assert_eq!(minimized, Some(true));
    assert_eq!(focus, None, "a minimized window is not focusable");
    // Not drawn: the desktop background shows where the bar was.
    assert_ne!(
        h.pixel(frame.x + 3, frame.y + TITLE_H / 2),
        bgra(Palette::ACTIVE.title)
    );
    // What foreign-toplevel activate does.
    h.compositor.with_state(move |s| s.activate_window(id));
    assert_eq!(
        h.pixel(frame.x + 3, frame.y + TITLE_H / 2),
        bgra(Palette::ACTIVE.title)
    );
}

#[test]
fn alt_tab_switches_on_alt_release_and_alt_f4_closes() {
    let mut h = Harness::new();
    let (a, _) = mapped(&mut h, "a", 300, 200);
    let (b, _) = mapped(&mut h, "b", 300, 200);
    let (ida, idb) = (h.window_id("a"), h.window_id("b"));
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(idb));
    h.key(KEY_LEFTALT, true);
    h.key(KEY_TAB, true);
    h.key(KEY_TAB, false);
    assert_eq!(
        h.compositor.with_state(|s| s.layout.focus()),
        Some(idb),
        "not committed while Alt is held"
    );
    // The overlay lists both windows, the second row (the target) highlighted.
    use skerry_compositor::decoration::SwitcherOverlay;
    let overlay = SwitcherOverlay::rect(Rect::new(0, 0, 1920, 1080), 2);
    let selected = skerry_compositor::decoration::switcher::SELECTED;
    assert_eq!(
        h.pixel(overlay.x + 10, overlay.y + 8 + 30 + 3),
        bgra(selected)
    );
    assert_ne!(h.pixel(overlay.x + 10, overlay.y + 8 + 3), bgra(selected));
    h.key(KEY_LEFTALT, false);
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(ida));
    assert_ne!(
        h.pixel(overlay.x + 10, overlay.y + 8 + 30 + 3),
        bgra(selected),
        "the overlay is gone"
    );
    assert_eq!(h.client.keyboard_focus, Some(a.surface.id().protocol_id()));
    assert!(
        !h.client.keys.iter().any(|(_, k, _)| *k == KEY_TAB),
        "Tab never reached a client"
    );
    // Again, with a minimized window in the cycle: it is restored.
    h.compositor
        .with_state(move |s| s.set_window_minimized(idb, true));
    h.key(KEY_LEFTALT, true);
    h.key(KEY_TAB, true);
    h.key(KEY_TAB, false);
    h.key(KEY_LEFTALT, false);
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(idb));
    assert_eq!(
        h.compositor
            .with_state(move |s| s.layout.get(idb).map(|w| w.minimized)),
        Some(false)
    );
    // Alt+F4 closes the focused window.
    h.key(KEY_LEFTALT, true);
    h.key(KEY_F4, true);
    h.key(KEY_F4, false);
    h.key(KEY_LEFTALT, false);
    assert_eq!(h.client.closes, vec![b.index]);
    assert!(!h.client.keys.iter().any(|(_, k, _)| *k == KEY_F4));
}

#[test]
fn super_tap_focuses_the_panel_and_delivers_the_key() {
    let mut h = Harness::new();
    let (w, _) = mapped(&mut h, "app", 300, 200);
    let shell = h.client.layer_shell.clone().expect("layer shell");
    let surface = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let layer = shell.get_layer_surface(
        &surface,
        None,
        zwlr_layer_shell_v1::Layer::Top,
        "skerry-panel".into(),
        &h.qh,
        (),
    );
    layer.set_size(0, 40);
    layer.set_anchor(
        zwlr_layer_surface_v1::Anchor::Bottom
            | zwlr_layer_surface_v1::Anchor::Left
            | zwlr_layer_surface_v1::Anchor::Right,
    );
    layer.set_keyboard_interactivity(zwlr_layer_surface_v1::KeyboardInteractivity::OnDemand);
    surface.commit();
    h.roundtrip();
    let buffer = h.buffer(1920, 40, 0xff000000);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
    let panel = surface.id().protocol_id();
    let app = w.surface.id().protocol_id();
    assert_eq!(h.client.keyboard_focus, Some(app));

    // Super with another key in between is not a tap: the other key goes to the app.
    h.key(KEY_LEFTMETA, true);
    h.key(KEY_A, true);
    h.key(KEY_A, false);
    h.key(KEY_LEFTMETA, false);
    assert_eq!(h.client.keyboard_focus, Some(app));
    assert_eq!(
        h.client.keys,
        vec![
            (Some(app), KEY_LEFTMETA, true),
            (Some(app), KEY_A, true),
            (Some(app), KEY_A, false),
            (Some(app), KEY_LEFTMETA, false)
        ],
        "a Super combination reaches the client whole"
    );

    h.client.keys.clear();
    h.key(KEY_LEFTMETA, true);
    h.key(KEY_LEFTMETA, false);
    assert_eq!(h.client.keyboard_focus, Some(panel));
    assert_eq!(
        h.client.keys,
        vec![
            (Some(panel), KEY_LEFTMETA, true),
            (Some(panel), KEY_LEFTMETA, false)
        ]
    );
    // A click on the window gives it the keyboard back.
    let frame = h.rect(h.window_id("app"));
    h.click(f64::from(frame.x + 20), f64::from(frame.y + TITLE_H + 20));
    assert_eq!(h.client.keyboard_focus, Some(app));
}

#[test]
fn title_bar_is_drawn_at_the_physical_size_at_fractional_scale() {
    let mut h = Harness::with_config(|c| c.scale = 1.5);
    let (_w, frame) = mapped(&mut h, "scaled", 300, 200);
    let p = |v: i32| (f64::from(v) * 1.5).round() as i32;
    let bar = bgra(Palette::ACTIVE.title);
    // The bar covers exactly its physical rows: the last bar row, then the content.
    let x = p(frame.x) + 4;
    assert_eq!(h.pixel(x, p(frame.y)), bar);
    assert_eq!(h.pixel(x, p(frame.y + TITLE_H) - 1), bar);
    // The content begins on the next row. The client's buffer is at scale 1, so at 1.5 its
    // first row may be filtered against its neighbour; from the row after, it is exact.
    assert_ne!(h.pixel(x, p(frame.y + TITLE_H)), bar);
    assert_eq!(h.pixel(x, p(frame.y + TITLE_H) + 1), bgra(0xff3366cc));
    // The border is one physical pixel or more, just outside the frame.
    assert_eq!(
        h.pixel(p(frame.x) - 1, p(frame.y + 50)),
        bgra(Palette::ACTIVE.border)
    );
}

#[test]
fn hovering_highlights_buttons_and_edges_set_resize_cursors() {
    use smithay::input::pointer::{CursorIcon, CursorImageStatus};
    let mut h = Harness::new();
    let (_w, frame) = mapped(&mut h, "hover", 400, 300);
    let (cx, cy) = (frame.x + frame.w - BUTTON_W / 2, frame.y + TITLE_H / 2);
    // Not hovered: the close button's corner has the bar colour.
    assert_eq!(h.pixel(cx - 12, cy - 10), bgra(Palette::ACTIVE.title));
    let damage = Arc::new(Mutex::new(Vec::new()));
    let sink = damage.clone();
    h.compositor.with_state(move |s| {
        s.frame_listeners.push(Box::new(Recorder(sink)));
        s.pointer_motion_absolute(f64::from(cx), f64::from(cy));
        s.pointer_frame();
    });
    let hovered = h.pixel(cx - 12, cy - 10);
    assert_ne!(
        hovered,
        bgra(Palette::ACTIVE.title),
        "close button highlighted"
    );
    assert!(hovered[2] > 150 && hovered[1] < 100, "red: {hovered:?}");
    // Only the title bar was repainted.
    let rects = damage.lock().expect("damage").clone();
    assert!(!rects.is_empty());
    for r in rects {
        assert!(
            r.0 >= frame.x
                && r.1 >= frame.y
                && r.0 + r.2 <= frame.x + frame.w
                && r.1 + r.3 <= frame.y + TITLE_H,
            "damage {r:?} outside the title bar of {frame:?}"
        );
    }
    // Edges show resize cursors; content leaves the cursor to the client.
    let cursor_at = |h: &mut Harness, x: i32, y: i32| {
        h.compositor.with_state(move |s| {
            s.pointer_motion_absolute(f64::from(x), f64::from(y));
            s.pointer_frame();
            s.cursor_status.clone()
        })
    };
    assert_eq!(
        cursor_at(&mut h, frame.x + frame.w + 2, frame.y + 150),
        CursorImageStatus::Named(CursorIcon::EResize)
    );
    assert_eq!(
        cursor_at(&mut h, frame.x + frame.w + 2, frame.y + frame.h + 2),
        CursorImageStatus::Named(CursorIcon::SeResize)
    );
    assert_eq!(
        cursor_at(&mut h, frame.x + 100, frame.y - 3),
        CursorImageStatus::Named(CursorIcon::NResize)
    );
}

/// A damage rectangle: x, y, w, h in output pixels.
type DamageRect = (i32, i32, i32, i32);

/// Records the damage rectangles of every rendered frame.
struct Recorder(Arc<Mutex<Vec<DamageRect>>>);

impl skerry_compositor::hooks::FrameListener for Recorder {
    fn on_frame_rendered(
        &mut self,
        _image: &skerry_compositor::hooks::OutputImage<'_>,
        damage: &[smithay::utils::Rectangle<i32, smithay::utils::Physical>],
    ) {
        if let Ok(mut v) = self.0.lock() {
            v.extend(
                damage
                    .iter()
                    .map(|r| (r.loc.x, r.loc.y, r.size.w, r.size.h)),
            );
        }
    }
}
