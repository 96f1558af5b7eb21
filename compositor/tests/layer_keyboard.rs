//! Keyboard interactivity of layer-shell surfaces, in-process with a real `wayland-client`
//! client: an exclusive surface (a start menu) holds the keyboard while it shows and gives
//! it back to the window when it goes; a click outside it closes it; an on-demand surface
//! gets the keyboard when clicked and loses it when a window is clicked.

mod harness;

use harness::Harness;
use wayland_client::{Proxy, protocol::wl_surface::WlSurface};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::Layer,
    zwlr_layer_surface_v1::{Anchor, KeyboardInteractivity, ZwlrLayerSurfaceV1},
};

const KEY_A: u32 = 30;

/// A 200x100 layer surface at the bottom-left corner, shown with a buffer.
fn layer(
    h: &mut Harness,
    namespace: &str,
    interactivity: KeyboardInteractivity,
) -> (WlSurface, ZwlrLayerSurfaceV1) {
    let shell = h.client.layer_shell.clone().expect("layer shell");
    let surface = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let layer = shell.get_layer_surface(&surface, None, Layer::Top, namespace.into(), &h.qh, ());
    layer.set_size(200, 100);
    layer.set_anchor(Anchor::Bottom | Anchor::Left);
    layer.set_keyboard_interactivity(interactivity);
    surface.commit();
    h.roundtrip();
    let buffer = h.buffer(200, 100, 0xff203040);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
    (surface, layer)
}

#[test]
fn exclusive_layer_holds_the_keyboard_while_it_shows() {
    let mut h = Harness::new();
    let w = h.toplevel("app");
    h.show(&w, 400, 300);
    let app = w.surface.id().protocol_id();
    assert_eq!(h.client.keyboard_focus, Some(app));

    let (menu, layer) = layer(&mut h, "launcher", KeyboardInteractivity::Exclusive);
    let menu_id = menu.id().protocol_id();
    assert_eq!(
        h.client.keyboard_focus,
        Some(menu_id),
        "exclusive: focus on map"
    );
    h.key(KEY_A, true);
    h.key(KEY_A, false);
    assert_eq!(
        h.client.keys,
        vec![(Some(menu_id), KEY_A, true), (Some(menu_id), KEY_A, false)]
    );
    // A window raised meanwhile (a new one) does not take the keyboard from it.
    let w2 = h.toplevel("second");
    h.show(&w2, 300, 200);
    assert_eq!(h.client.keyboard_focus, Some(menu_id));

    // Gone: the keyboard is back on the focused window.
    layer.destroy();
    menu.destroy();
    h.roundtrip();
    assert_eq!(h.client.keyboard_focus, Some(w2.surface.id().protocol_id()));
}

#[test]
fn click_outside_an_exclusive_layer_closes_it() {
    let mut h = Harness::new();
    let w = h.toplevel("app");
    h.show(&w, 400, 300);
    let (menu, layer) = layer(&mut h, "menu", KeyboardInteractivity::Exclusive);
    assert_eq!(h.client.keyboard_focus, Some(menu.id().protocol_id()));
    // A click on the menu itself (or anything else of its client) closes nothing.
    let out = h.compositor.with_state(|s| s.layout.output());
    h.click(50.0, f64::from(out.h - 50));
    h.roundtrip();
    assert_eq!(h.client.layers_closed, 0);
    // A click on the empty desktop (no surface of the menu's client there; in a session
    // it would as well be another client's window): the compositor closes the menu and
    // the client destroys it.
    h.click(5.0, 5.0);
    h.roundtrip();
    assert_eq!(h.client.layers_closed, 1, "closed event sent");
    layer.destroy();
    menu.destroy();
    h.roundtrip();
    // The keyboard is free again: clicking the window gives it the keyboard.
    let frame = h.rect(h.window_id("app"));
    h.click(f64::from(frame.x + 50), f64::from(frame.y + 50));
    assert_eq!(h.client.keyboard_focus, Some(w.surface.id().protocol_id()));
}

#[test]
fn on_demand_layer_gets_the_keyboard_when_clicked() {
    let mut h = Harness::new();
    let w = h.toplevel("app");
    h.show(&w, 400, 300);
    let app = w.surface.id().protocol_id();
    let (bar, _layer) = layer(&mut h, "bar", KeyboardInteractivity::OnDemand);
    let (quiet, quiet_layer) = layer(&mut h, "quiet", KeyboardInteractivity::None);
    assert_eq!(
        h.client.keyboard_focus,
        Some(app),
        "on demand and none: no focus on map"
    );
    let out = h.compositor.with_state(|s| s.layout.output());
    // Both sit in the same corner; the later one (no keyboard) is on top: nothing changes.
    h.click(50.0, f64::from(out.h - 50));
    assert_eq!(h.client.keyboard_focus, Some(app));
    quiet_layer.destroy();
    quiet.destroy();
    h.roundtrip();
    h.click(50.0, f64::from(out.h - 50));
    assert_eq!(h.client.keyboard_focus, Some(bar.id().protocol_id()));
    // Clicking the window takes it back.
    let frame = h.rect(h.window_id("app"));
    h.click(f64::from(frame.x + 50), f64::from(frame.y + 50));
    assert_eq!(h.client.keyboard_focus, Some(app));
}

/// B,G,R,A bytes of an opaque 0xAARRGGBB colour.
fn bgra(argb: u32) -> [u8; 4] {
    argb.to_le_bytes()
}

#[test]
fn title_bar_looks_unfocused_while_an_exclusive_layer_has_the_keyboard() {
    use skerry_compositor::decoration::{Palette, TITLE_H};
    let mut h = Harness::new();
    let w = h.decorated_toplevel("app");
    h.show(&w, 400, 300);
    let frame = h.rect(h.window_id("app"));
    let (x, y) = (frame.x + 3, frame.y + TITLE_H / 2);
    assert_eq!(h.pixel(x, y), bgra(Palette::ACTIVE.title));
    let (menu, layer) = layer(&mut h, "menu", KeyboardInteractivity::Exclusive);
    assert_eq!(h.pixel(x, y), bgra(Palette::INACTIVE.title));
    layer.destroy();
    menu.destroy();
    h.roundtrip();
    assert_eq!(h.pixel(x, y), bgra(Palette::ACTIVE.title));
}
