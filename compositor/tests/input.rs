//! Input through the injection entry points the virtual-pointer module uses, as a real
//! client sees it; the client's cursor image as capture modules see it; interactive move;
//! and a client that breaks the protocol being cut off without disturbing others.

mod harness;

use std::{
    os::unix::net::UnixStream,
    sync::{Arc, Mutex},
};

use harness::{Client, Harness, PointerEvent};
use skerry_compositor::input::AxisAmount;
use smithay::backend::input::AxisSource;
use wayland_client::{Connection, Proxy};

#[test]
fn injected_pointer_events_reach_the_client() {
    let mut h = Harness::new();
    let w = h.toplevel("target");
    h.show(&w, 400, 300);
    let rect = h.rect(h.window_id("target"));
    let (x, y) = (f64::from(rect.x + 100), f64::from(rect.y + 50));
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(x, y);
        s.pointer_frame();
        s.pointer_axis(
            AxisSource::Wheel,
            AxisAmount::default(),
            AxisAmount {
                value: 15.0,
                v120: Some(120),
            },
        );
        s.pointer_frame();
    });
    h.roundtrip();
    let events = h.client.pointer_events.clone();
    let surface = w.surface.id().protocol_id();
    assert!(
        events.iter().any(|e| matches!(e, PointerEvent::Enter { surface: s, x, y, .. } if *s == surface && *x == 100.0 && *y == 50.0)),
        "{events:?}"
    );
    assert!(events.contains(&PointerEvent::Value120 {
        vertical: true,
        value120: 120
    }));
    assert!(events.contains(&PointerEvent::Axis {
        vertical: true,
        value: 15.0
    }));
    assert_eq!(events.last(), Some(&PointerEvent::Frame));

    // Relative motion moves the pointer by the delta, clamped to the output.
    let pos = h.compositor.with_state(|s| {
        s.pointer_motion_relative(10.0, -5.0);
        s.pointer_frame();
        let c = s.cursor_state();
        (c.x, c.y)
    });
    assert_eq!(pos, (rect.x + 110, rect.y + 45));
    let pos = h.compositor.with_state(|s| {
        s.pointer_motion_relative(-100_000.0, 0.0);
        let c = s.cursor_state();
        (c.x, c.y)
    });
    assert_eq!(pos.0, 0);
}

#[test]
fn client_cursor_image_is_exposed_and_change_notified() {
    let mut h = Harness::new();
    let w = h.toplevel("cursor");
    h.show(&w, 200, 200);
    let rect = h.rect(h.window_id("cursor"));
    assert_eq!(
        h.compositor.with_state(|s| s.cursor_state().name),
        Some("default")
    );
    let changes: Arc<Mutex<u32>> = Arc::default();
    let sink = changes.clone();
    let (x, y) = (rect.x + 20, rect.y + 20);
    h.compositor.with_state(move |s| {
        s.cursor_listeners.push(Box::new(move |_| {
            if let Ok(mut n) = sink.lock() {
                *n += 1;
            }
        }));
        s.pointer_motion_absolute(f64::from(x), f64::from(y));
        s.pointer_frame();
    });
    h.roundtrip();
    let serial = h
        .client
        .pointer_events
        .iter()
        .find_map(|e| match e {
            PointerEvent::Enter { serial, .. } => Some(*serial),
            _ => None,
        })
        .expect("pointer entered");
    let cursor = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let buffer = h.buffer(8, 8, 0xff00ff00);
    cursor.attach(Some(&buffer), 0, 0);
    cursor.commit();
    h.client
        .pointer
        .as_ref()
        .expect("pointer")
        .set_cursor(serial, Some(&cursor), 3, 4);
    h.roundtrip();
    let state = h.compositor.with_state(|s| s.cursor_state());
    let image = state.image.expect("a cursor image");
    assert_eq!((image.width, image.height), (8, 8));
    assert_eq!((image.hotspot_x, image.hotspot_y), (3, 4));
    assert_eq!(&image.rgba[..4], &[0, 255, 0, 255]);
    assert_eq!(state.name, None, "a client image has no shape name");
    assert_eq!((state.x, state.y), (x, y));
    assert!(
        *changes.lock().unwrap() >= 2,
        "motion and image change notified"
    );

    // The output image itself has no cursor; render_with_cursor paints it.
    let (plain, painted) = h.compositor.with_state(move |s| {
        let img = s.backend.image();
        let off = (y as u32 * img.stride + x as u32 * 4) as usize;
        let with = s.render_with_cursor(&img);
        (
            img.bytes[off..off + 4].to_vec(),
            with[off..off + 4].to_vec(),
        )
    });
    assert_ne!(plain, vec![0, 255, 0, 255]);
    assert_eq!(painted, vec![0, 255, 0, 255]);

    // Hiding the cursor is visible to captures.
    h.client
        .pointer
        .as_ref()
        .expect("pointer")
        .set_cursor(serial, None, 0, 0);
    h.roundtrip();
    assert_eq!(h.compositor.with_state(|s| s.cursor_state().image), None);
}

#[test]
fn interactive_move_follows_the_pointer() {
    let mut h = Harness::new();
    let w = h.toplevel("mover");
    h.show(&w, 300, 200);
    let id = h.window_id("mover");
    let before = h.rect(id);
    let (x, y) = (f64::from(before.x + 10), f64::from(before.y + 10));
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(x, y);
        s.pointer_frame();
        s.pointer_button(0x110, true);
        s.pointer_frame();
    });
    h.roundtrip();
    let serial = h
        .client
        .pointer_events
        .iter()
        .find_map(|e| match e {
            PointerEvent::Button {
                serial,
                pressed: true,
                ..
            } => Some(*serial),
            _ => None,
        })
        .expect("button press seen");
    let seat = h.client.seat.clone().expect("seat");
    w.toplevel._move(&seat, serial);
    h.roundtrip();
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(x + 100.0, y + 50.0);
        s.pointer_frame();
        s.pointer_button(0x110, false);
        s.pointer_frame();
    });
    let after = h.rect(id);
    assert_eq!((after.x, after.y), (before.x + 100, before.y + 50));
    assert_eq!((after.w, after.h), (before.w, before.h));
}

#[test]
fn protocol_error_disconnects_only_the_offender() {
    let mut h = Harness::new();
    // A second client creates an shm buffer with an impossible stride.
    let stream = UnixStream::connect(h.compositor.runtime_dir.join(&h.compositor.socket_name))
        .expect("connect");
    let conn = Connection::from_socket(stream).expect("connection");
    let mut queue = conn.new_event_queue();
    let qh = queue.handle();
    conn.display().get_registry(&qh, ());
    let mut bad = Client::default();
    queue.roundtrip(&mut bad).expect("roundtrip");
    let fd = rustix::fs::memfd_create("bad", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::fs::ftruncate(&fd, 4096).expect("size");
    let pool =
        bad.shm
            .as_ref()
            .expect("shm")
            .create_pool(std::os::fd::AsFd::as_fd(&fd), 4096, &qh, ());
    let _buffer = pool.create_buffer(
        0,
        64,
        16,
        4,
        wayland_client::protocol::wl_shm::Format::Argb8888,
        &qh,
        (),
    );
    let result = queue.roundtrip(&mut bad);
    assert!(result.is_err(), "the compositor must reject the buffer");
    assert!(
        conn.protocol_error().is_some(),
        "disconnected with a protocol error"
    );

    // The well-behaved client carries on.
    let w = h.toplevel("survivor");
    h.show(&w, 100, 100);
    assert_eq!(h.compositor.with_state(|s| s.toplevels().len()), 1);
}

#[test]
fn click_outside_a_grabbing_popup_dismisses_it() {
    let mut h = Harness::new();
    let w = h.toplevel("menu-owner");
    h.show(&w, 400, 300);
    let rect = h.rect(h.window_id("menu-owner"));
    let (x, y) = (f64::from(rect.x + 10), f64::from(rect.y + 10));
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(x, y);
        s.pointer_frame();
        s.pointer_button(0x110, true);
        s.pointer_frame();
    });
    h.roundtrip();
    let serial = h
        .client
        .pointer_events
        .iter()
        .find_map(|e| match e {
            PointerEvent::Button {
                serial,
                pressed: true,
                ..
            } => Some(*serial),
            _ => None,
        })
        .expect("button press seen");
    let wm_base = h.client.wm_base.clone().expect("wm base");
    let positioner = wm_base.create_positioner(&h.qh, ());
    positioner.set_size(100, 80);
    positioner.set_anchor_rect(10, 10, 1, 1);
    let surface = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let xdg = wm_base.get_xdg_surface(&surface, &h.qh, ());
    let popup = xdg.get_popup(Some(&w.xdg), &positioner, &h.qh, ());
    popup.grab(h.client.seat.as_ref().expect("seat"), serial);
    surface.commit();
    h.roundtrip();
    let buffer = h.buffer(100, 80, 0xffffffff);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
    assert_eq!(h.client.popups_done, 0);
    h.compositor.with_state(|s| {
        s.pointer_button(0x110, false);
        s.pointer_frame();
    });
    // Click on the empty desktop, far from window and popup.
    h.click(5.0, 5.0);
    h.roundtrip();
    assert_eq!(h.client.popups_done, 1, "popup_done after an outside click");
}

#[test]
fn pointer_lock_keeps_the_pointer_and_sends_relative_motion() {
    use wayland_protocols::wp::pointer_constraints::zv1::client::zwp_pointer_constraints_v1::Lifetime;
    let mut h = Harness::new();
    let w = h.toplevel("game");
    h.show(&w, 400, 300);
    let rect = h.rect(h.window_id("game"));
    let (x, y) = (rect.x + 200, rect.y + 150);
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(f64::from(x), f64::from(y));
        s.pointer_frame();
    });
    h.roundtrip();
    let pointer = h.client.pointer.clone().expect("pointer");
    let relative = h
        .client
        .relative_manager
        .as_ref()
        .expect("zwp_relative_pointer_manager_v1")
        .get_relative_pointer(&pointer, &h.qh, ());
    let _lock = h
        .client
        .constraints
        .as_ref()
        .expect("zwp_pointer_constraints_v1")
        .lock_pointer(&w.surface, &pointer, None, Lifetime::Persistent, &h.qh, ());
    w.surface.commit();
    h.roundtrip();
    assert!(h.client.locked, "lock granted to the focused surface");

    let pos = h.compositor.with_state(|s| {
        s.pointer_motion_relative(12.0, -7.0);
        s.pointer_frame();
        let c = s.cursor_state();
        (c.x, c.y)
    });
    h.roundtrip();
    assert_eq!(pos, (x, y), "a locked pointer does not move");
    assert_eq!(h.client.relative_motions.last(), Some(&(12.0, -7.0)));
    relative.destroy();
}

#[test]
fn confined_pointer_cannot_leave_its_surface() {
    use wayland_protocols::wp::pointer_constraints::zv1::client::zwp_pointer_constraints_v1::Lifetime;
    let mut h = Harness::new();
    let w = h.toplevel("confined");
    h.show(&w, 400, 300);
    let rect = h.rect(h.window_id("confined"));
    let (x, y) = (rect.x + 200, rect.y + 150);
    h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(f64::from(x), f64::from(y));
        s.pointer_frame();
    });
    h.roundtrip();
    let pointer = h.client.pointer.clone().expect("pointer");
    let _confine = h
        .client
        .constraints
        .as_ref()
        .expect("zwp_pointer_constraints_v1")
        .confine_pointer(&w.surface, &pointer, None, Lifetime::Persistent, &h.qh, ());
    w.surface.commit();
    h.roundtrip();
    // Inside the surface the pointer moves; out of it, it stays.
    let inside = h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(f64::from(x + 50), f64::from(y));
        let c = s.cursor_state();
        (c.x, c.y)
    });
    assert_eq!(inside, (x + 50, y));
    let outside = h.compositor.with_state(move |s| {
        s.pointer_motion_absolute(5.0, 5.0);
        let c = s.cursor_state();
        (c.x, c.y)
    });
    assert_eq!(outside, (x + 50, y), "confined pointer left its surface");
}
