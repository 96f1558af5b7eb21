//! The compositor in-process (on its own thread) with real `wayland-client` clients: the
//! xdg-shell configure sequence, focus on click, maximize / minimize / fullscreen through the
//! layout policy, popup placement, output mode changes and the frame hooks.

mod harness;

use std::sync::{Arc, Mutex};

use harness::Harness;
use wayland_protocols::xdg::shell::client::{xdg_positioner, xdg_toplevel};
use wayland_protocols_wlr::layer_shell::v1::client::{zwlr_layer_shell_v1, zwlr_layer_surface_v1};

#[test]
fn toplevel_configure_sequence_and_mapping() {
    let mut h = Harness::new();
    let w = h.toplevel("first");
    // The initial configure lets the client choose its size.
    let (cw, ch, states) = h.last_configure(&w);
    assert_eq!((cw, ch), (0, 0));
    assert!(!states.contains(&xdg_toplevel::State::Activated));
    assert!(
        h.compositor.with_state(|s| s.toplevels().is_empty()),
        "not mapped before a buffer"
    );

    h.show(&w, 400, 300);
    let id = h.window_id("first");
    let rect = h.rect(id);
    assert_eq!((rect.w, rect.h), (400, 300));
    assert_eq!(
        (rect.x, rect.y),
        ((1920 - 400) / 2, (1080 - 300) / 2),
        "centered"
    );
    let (cw, ch, states) = h.last_configure(&w);
    assert_eq!((cw, ch), (400, 300));
    assert!(
        states.contains(&xdg_toplevel::State::Activated),
        "mapped window is focused"
    );
    use wayland_client::Proxy;
    assert_eq!(h.client.keyboard_focus, Some(w.surface.id().protocol_id()));
    let stats = h.compositor.with_state(|s| s.stats);
    assert_eq!(stats.windows_mapped, 1);

    // ext-foreign-toplevel-list announces it, and its end.
    h.roundtrip();
    let listed: Vec<_> = h.client.foreign.values().cloned().collect();
    assert_eq!(listed, vec![("first".to_string(), String::new(), false)]);
    w.toplevel.destroy();
    w.xdg.destroy();
    h.roundtrip();
    assert!(h.client.foreign.values().all(|(_, _, closed)| *closed));
    assert!(h.compositor.with_state(|s| s.toplevels().is_empty()));
}

#[test]
fn click_focuses_and_raises() {
    let mut h = Harness::new();
    let a = h.toplevel("a");
    h.show(&a, 400, 300);
    let b = h.toplevel("b");
    h.show(&b, 400, 300);
    let (ida, idb) = (h.window_id("a"), h.window_id("b"));
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(idb));
    let ra = h.rect(ida);
    // A's top-left corner is not covered by B (cascaded down-right).
    h.click(f64::from(ra.x + 5), f64::from(ra.y + 5));
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(ida));
    let top = h
        .compositor
        .with_state(|s| s.layout.windows().last().map(|w| w.id));
    assert_eq!(top, Some(ida), "raised");
    use wayland_client::Proxy;
    assert_eq!(h.client.keyboard_focus, Some(a.surface.id().protocol_id()));
    assert!(
        h.last_configure(&a)
            .2
            .contains(&xdg_toplevel::State::Activated)
    );
    assert!(
        !h.last_configure(&b)
            .2
            .contains(&xdg_toplevel::State::Activated)
    );
    // A click on the empty desktop clears focus.
    h.click(5.0, 5.0);
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), None);
}

#[test]
fn maximize_fullscreen_minimize_requests_follow_the_policy() {
    let mut h = Harness::new();
    let w = h.toplevel("m");
    h.show(&w, 500, 400);
    let id = h.window_id("m");

    w.toplevel.set_maximized();
    h.roundtrip();
    let (cw, ch, states) = h.last_configure(&w);
    assert!(states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (1920, 1080));
    h.show(&w, cw, ch);
    assert_eq!(
        h.rect(id),
        skerry_compositor::layout::Rect::new(0, 0, 1920, 1080)
    );

    w.toplevel.unset_maximized();
    h.roundtrip();
    let (cw, ch, states) = h.last_configure(&w);
    assert!(!states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (500, 400), "restored to its floating size");
    h.show(&w, cw, ch);

    w.toplevel.set_fullscreen(None);
    h.roundtrip();
    assert!(
        h.last_configure(&w)
            .2
            .contains(&xdg_toplevel::State::Fullscreen)
    );

    w.toplevel.set_minimized();
    h.roundtrip();
    let (minimized, focus) = h
        .compositor
        .with_state(move |s| (s.layout.get(id).map(|w| w.minimized), s.layout.focus()));
    assert_eq!(minimized, Some(true));
    assert_eq!(focus, None, "a minimized window loses focus");
    h.compositor.with_state(move |s| s.activate_window(id));
    h.roundtrip();
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(id));
}

#[test]
fn popup_is_kept_on_the_output() {
    let mut h = Harness::new();
    let w = h.toplevel("popup-parent");
    h.show(&w, 400, 300);
    let id = h.window_id("popup-parent");
    // Move the window so its right edge is near the output's right edge.
    h.compositor.with_state(move |s| {
        s.layout.move_window(id, 1920 - 420, 100);
        s.apply_layout();
    });
    let rect = h.rect(id);
    let positioner = h
        .client
        .wm_base
        .as_ref()
        .expect("wm base")
        .create_positioner(&h.qh, ());
    positioner.set_size(300, 200);
    positioner.set_anchor_rect(380, 10, 10, 10);
    positioner.set_anchor(xdg_positioner::Anchor::TopRight);
    positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
    positioner.set_constraint_adjustment(
        xdg_positioner::ConstraintAdjustment::SlideX | xdg_positioner::ConstraintAdjustment::FlipX,
    );
    let surface = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let xdg = h
        .client
        .wm_base
        .as_ref()
        .expect("wm base")
        .get_xdg_surface(&surface, &h.qh, ());
    let _popup = xdg.get_popup(Some(&w.xdg), &positioner, &h.qh, ());
    surface.commit();
    h.roundtrip();
    let (x, _y, pw, ph) = *h.client.popup_configures.last().expect("popup configure");
    assert_eq!((pw, ph), (300, 200));
    assert!(
        rect.x + x + pw <= 1920,
        "popup at {x} overflows the output (window at {})",
        rect.x
    );
    assert!(rect.x + x >= 0);
    let buffer = h.buffer(300, 200, 0xffffffff);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
}

#[test]
fn frame_hooks_see_damage_and_forced_frames() {
    let mut h = Harness::new();
    let frames: Arc<Mutex<Vec<(u32, u32, usize)>>> = Arc::default();
    let sink = frames.clone();
    h.compositor.with_state(move |s| {
        s.frame_listeners.push(Box::new(
            move |image: &skerry_compositor::hooks::OutputImage<'_>,
                  damage: &[smithay::utils::Rectangle<i32, smithay::utils::Physical>]| {
                if let Ok(mut f) = sink.lock() {
                    f.push((image.width, image.stride, damage.len()));
                }
            },
        ));
    });
    let w = h.toplevel("painted");
    h.show(&w, 64, 64);
    let id = h.window_id("painted");
    let rect = h.rect(id);
    // Wait for the paced render to happen (poll the counter with a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.compositor.with_state(|s| s.stats.frames_damaged) < 2 {
        assert!(std::time::Instant::now() < deadline, "no frame rendered");
        std::thread::yield_now();
    }
    // The window's pixels are in the output image: B,G,R,A of 0xff3366cc.
    let pixel = h.compositor.with_state(move |s| {
        let img = s.backend.image();
        let off = ((rect.y + 10) as u32 * img.stride + (rect.x + 10) as u32 * 4) as usize;
        img.bytes[off..off + 4].to_vec()
    });
    assert_eq!(pixel, vec![0xcc, 0x66, 0x33, 0xff]);
    assert!(
        frames
            .lock()
            .unwrap()
            .iter()
            .any(|(w, stride, d)| *w == 1920 && *stride >= 1920 * 4 && *d > 0)
    );

    // Nothing changed: a forced frame reaches listeners with empty damage.
    let before = frames.lock().unwrap().len();
    h.compositor.with_state(|s| s.request_frame());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while frames.lock().unwrap().len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "forced frame never came"
        );
        h.compositor.with_state(|_| ());
    }
    assert_eq!(frames.lock().unwrap().last().map(|f| f.2), Some(0));
}

#[test]
fn output_mode_change_reconfigures_maximized_windows() {
    let mut h = Harness::new();
    let w = h.toplevel("max");
    h.show(&w, 300, 200);
    w.toplevel.set_maximized();
    h.roundtrip();
    let modes: Arc<Mutex<Vec<(u32, u32, f64)>>> = Arc::default();
    let sink = modes.clone();
    h.compositor.with_state(move |s| {
        s.mode_listeners.push(Box::new(move |w, hh, scale| {
            if let Ok(mut m) = sink.lock() {
                m.push((w, hh, scale));
            }
        }))
    });
    h.compositor
        .with_state(|s| s.set_output_mode(1280, 720, 1.0))
        .expect("mode change");
    h.roundtrip();
    let (cw, ch, states) = h.last_configure(&w);
    assert!(states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (1280, 720));
    let size = h.compositor.with_state(|s| {
        let img = s.backend.image();
        (img.width, img.height)
    });
    assert_eq!(size, (1280, 720));
    // Scale 2: the logical output halves.
    h.compositor
        .with_state(|s| s.set_output_mode(1280, 720, 2.0))
        .expect("mode change");
    h.roundtrip();
    assert_eq!(h.last_configure(&w).0, 640);
    assert!(
        h.compositor
            .with_state(|s| s.set_output_mode(0, 720, 1.0))
            .is_err()
    );
}

#[test]
fn shrinking_the_output_brings_a_floating_window_back_inside() {
    let mut h = Harness::new();
    let w = h.toplevel("edge");
    h.show(&w, 400, 300);
    let id = h.window_id("edge");
    // Near the bottom-right corner of the 1920x1080 output.
    h.compositor
        .with_state(move |s| s.layout.move_window(id, 1500, 760));
    // The browser window shrinks to 1280x720: the window is moved to be whole again, at
    // its size, and drawn there.
    h.compositor
        .with_state(|s| s.set_output_mode(1280, 720, 1.0))
        .expect("mode change");
    h.roundtrip();
    let r = h.rect(id);
    assert_eq!(
        r,
        skerry_compositor::layout::Rect::new(1280 - 400, 720 - 300, 400, 300)
    );
    assert_eq!(h.pixel(1279, 719), [0xcc, 0x66, 0x33, 0xff], "drawn there");
}

#[test]
fn single_app_mode_fills_the_output() {
    let mut h = Harness::with_config(|c| c.single_app = true);
    let w = h.toplevel("app");
    let (cw, ch, states) = h.last_configure(&w);
    assert_eq!(
        (cw, ch),
        (1920, 1080),
        "the first configure already fills the output"
    );
    assert!(states.contains(&xdg_toplevel::State::Fullscreen));
    h.show(&w, cw, ch);
    let id = h.window_id("app");
    assert_eq!(
        h.rect(id),
        skerry_compositor::layout::Rect::new(0, 0, 1920, 1080)
    );
}

#[test]
fn layer_shell_exclusive_zone_shrinks_the_usable_area() {
    let mut h = Harness::new();
    let shell = h
        .client
        .layer_shell
        .clone()
        .expect("zwlr_layer_shell_v1 advertised");
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
        "panel".into(),
        &h.qh,
        (),
    );
    layer.set_size(0, 40);
    layer.set_anchor(
        zwlr_layer_surface_v1::Anchor::Bottom
            | zwlr_layer_surface_v1::Anchor::Left
            | zwlr_layer_surface_v1::Anchor::Right,
    );
    layer.set_exclusive_zone(40);
    surface.commit();
    h.roundtrip();
    let (_, lw, lh) = *h.client.layer_configures.last().expect("layer configure");
    assert_eq!((lw, lh), (1920, 40), "stretched across the bottom edge");
    let buffer = h.buffer(1920, 40, 0xff000000);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
    let usable = h.compositor.with_state(|s| s.layout.usable());
    assert_eq!(
        usable,
        skerry_compositor::layout::Rect::new(0, 0, 1920, 1040)
    );

    // A maximized window stops at the panel.
    let w = h.toplevel("above-panel");
    h.show(&w, 300, 200);
    w.toplevel.set_maximized();
    h.roundtrip();
    let (cw, ch, _) = h.last_configure(&w);
    assert_eq!((cw, ch), (1920, 1040));

    // Clicks on the panel do not take focus from the window.
    let id = h.window_id("above-panel");
    h.click(100.0, 1060.0);
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(id));

    layer.destroy();
    surface.destroy();
    h.roundtrip();
    let usable = h.compositor.with_state(|s| s.layout.usable());
    assert_eq!(
        usable,
        skerry_compositor::layout::Rect::new(0, 0, 1920, 1080)
    );
}

#[test]
fn raising_a_window_repaints_the_overlap() {
    let mut h = Harness::new();
    let a = h.toplevel("red");
    h.show_color(&a, 400, 300, 0xffff0000);
    let b = h.toplevel("green");
    h.show_color(&b, 400, 300, 0xff00ff00);
    let (ra, rb) = (h.rect(h.window_id("red")), h.rect(h.window_id("green")));
    // A point covered by both: green (on top) shows.
    let (x, y) = (rb.x + 10, rb.y + 10);
    assert!(ra.x + ra.w > x && ra.y + ra.h > y);
    assert_eq!(h.pixel(x, y), [0, 0xff, 0, 0xff]);
    // Raise red by clicking its uncovered corner: the overlap turns red.
    h.click(f64::from(ra.x + 2), f64::from(ra.y + 2));
    assert_eq!(h.pixel(x, y), [0, 0, 0xff, 0xff]);
    // Minimizing red uncovers green again; the background shows where neither is.
    let id = h.window_id("red");
    h.compositor
        .with_state(move |s| s.set_window_minimized(id, true));
    assert_eq!(h.pixel(x, y), [0, 0xff, 0, 0xff]);
    assert_ne!(h.pixel(ra.x + 2, ra.y + 2), [0, 0, 0xff, 0xff]);
}
