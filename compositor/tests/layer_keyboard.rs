//! Keyboard focus and layer surfaces: the start-menu key gives the keyboard to the shell's
//! panel, a layer surface asking for exclusive keyboard interactivity (the open menu) holds
//! it ahead of every window, and when that surface goes away the focused window gets the
//! keyboard back.

mod harness;

use harness::Harness;
use wayland_client::{Proxy, protocol::wl_surface::WlSurface};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::Layer,
    zwlr_layer_surface_v1::{Anchor, KeyboardInteractivity, ZwlrLayerSurfaceV1},
};

const KEY_A: u32 = 30;
const KEY_LEFTMETA: u32 = 125;

/// A mapped layer surface on the bottom edge.
fn layer(
    h: &mut Harness,
    namespace: &str,
    interactivity: KeyboardInteractivity,
) -> (WlSurface, ZwlrLayerSurfaceV1) {
    let shell = h.client.layer_shell.clone().expect("zwlr_layer_shell_v1");
    let surface = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let ls = shell.get_layer_surface(&surface, None, Layer::Top, namespace.into(), &h.qh, ());
    ls.set_size(200, 40);
    ls.set_anchor(Anchor::Bottom | Anchor::Left);
    ls.set_keyboard_interactivity(interactivity);
    surface.commit();
    h.roundtrip();
    let buffer = h.buffer(200, 40, 0xff202020);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
    h.roundtrip();
    (surface, ls)
}

fn id(surface: &WlSurface) -> Option<u32> {
    Some(surface.id().protocol_id())
}

#[test]
fn exclusive_layer_holds_the_keyboard_until_it_goes_away() {
    let mut h = Harness::new();
    let w = h.toplevel("editor");
    h.show(&w, 400, 300);
    assert_eq!(h.client.keyboard_focus, id(&w.surface));

    let (menu, menu_layer) = layer(&mut h, "skerry-menu", KeyboardInteractivity::Exclusive);
    assert_eq!(
        h.client.keyboard_focus,
        id(&menu),
        "the menu takes the keyboard"
    );
    h.key(KEY_A, true);
    h.key(KEY_A, false);
    assert_eq!(
        h.client.keys.last().copied(),
        Some((id(&menu), KEY_A, false))
    );
    // A click on the window does not take the keyboard from an exclusive surface.
    let rect = h.rect(h.window_id("editor"));
    h.click(f64::from(rect.x + 10), f64::from(rect.y + 10));
    assert_eq!(h.client.keyboard_focus, id(&menu));

    menu_layer.destroy();
    menu.destroy();
    h.roundtrip();
    h.roundtrip();
    assert_eq!(
        h.client.keyboard_focus,
        id(&w.surface),
        "back to the window"
    );
}

#[test]
fn super_tap_then_menu_then_close_returns_the_keyboard_to_the_window() {
    let mut h = Harness::new();
    let (panel, _panel_layer) = layer(&mut h, "skerry-panel", KeyboardInteractivity::OnDemand);
    let w = h.toplevel("editor");
    h.show(&w, 400, 300);
    assert_eq!(h.client.keyboard_focus, id(&w.surface));

    h.key(KEY_LEFTMETA, true);
    h.key(KEY_LEFTMETA, false);
    assert_eq!(h.client.keyboard_focus, id(&panel), "Super tap: the panel");
    let tail: Vec<_> = h.client.keys.iter().rev().take(2).rev().copied().collect();
    assert_eq!(
        tail,
        vec![
            (id(&panel), KEY_LEFTMETA, true),
            (id(&panel), KEY_LEFTMETA, false)
        ]
    );

    // The shell opens its menu (exclusive), the user types, then the menu closes.
    let (menu, menu_layer) = layer(&mut h, "skerry-menu", KeyboardInteractivity::Exclusive);
    assert_eq!(h.client.keyboard_focus, id(&menu));
    menu_layer.destroy();
    menu.destroy();
    h.roundtrip();
    h.roundtrip();
    assert_eq!(
        h.client.keyboard_focus,
        id(&w.surface),
        "the window, not the panel, has the keyboard after the menu"
    );
}
