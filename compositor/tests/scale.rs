//! Output scale other than 1: surfaces drawn by clients at the output's resolution cover
//! exactly their logical size times the scale in output pixels. A layer-shell panel with
//! `wl_surface.set_buffer_scale(2)`, one with a viewport at fractional scale 1.5, and an
//! xdg toplevel at scale 2, each checked pixel by pixel in the rendered image.

mod harness;

use harness::Harness;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1, zwlr_layer_surface_v1::Anchor,
};

/// Red, as B,G,R,A in the output image.
const RED: [u8; 4] = [0, 0, 0xff, 0xff];

fn harness_at(width: u32, height: u32, scale: f64) -> Harness {
    Harness::with_config(|c| {
        c.width = width;
        c.height = height;
        c.scale = scale;
    })
}

/// A bottom panel `height` logical pixels tall, across the output; returns its surface and
/// the logical size the compositor configured.
fn bottom_panel(h: &mut Harness, height: u32) -> (WlSurface, (u32, u32)) {
    let shell = h.client.layer_shell.clone().expect("zwlr_layer_shell_v1");
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
    layer.set_size(0, height);
    layer.set_anchor(Anchor::Bottom | Anchor::Left | Anchor::Right);
    layer.set_exclusive_zone(height as i32);
    surface.commit();
    h.roundtrip();
    let (_, w, hh) = *h.client.layer_configures.last().expect("layer configure");
    (surface, (w, hh))
}

#[test]
fn layer_surface_with_buffer_scale_2_covers_its_physical_pixels() {
    let mut h = harness_at(1920, 1080, 2.0);
    let (surface, size) = bottom_panel(&mut h, 40);
    assert_eq!(size, (960, 40), "configured in logical pixels");
    // Drawn at the output's resolution: 80 buffer pixels tall, buffer scale 2.
    let buffer = h.buffer(1920, 80, 0xffff0000);
    surface.set_buffer_scale(2);
    surface.attach(Some(&buffer), 0, 0);
    surface.damage_buffer(0, 0, 1920, 80);
    surface.commit();
    h.roundtrip();
    h.roundtrip();
    for (x, y) in [
        (0, 1000),
        (1919, 1000),
        (960, 1040),
        (1919, 1079),
        (0, 1079),
    ] {
        assert_eq!(h.pixel(x, y), RED, "panel pixel ({x}, {y})");
    }
    assert_ne!(
        h.pixel(960, 999),
        RED,
        "the panel is exactly 80 pixels tall"
    );
    let usable = h.compositor.with_state(|s| s.layout.usable());
    assert_eq!(usable, skerry_compositor::layout::Rect::new(0, 0, 960, 500));
}

#[test]
fn layer_surface_with_viewport_at_scale_1_5_covers_its_physical_pixels() {
    let mut h = harness_at(1920, 1080, 1.5);
    let viewporter = h.client.viewporter.clone().expect("wp_viewporter");
    let (surface, size) = bottom_panel(&mut h, 44);
    assert_eq!(size, (1280, 44));
    // 1280x44 logical at 1.5 are 1920x66 buffer pixels, mapped back by the viewport.
    let viewport = viewporter.get_viewport(&surface, &h.qh, ());
    viewport.set_destination(1280, 44);
    let buffer = h.buffer(1920, 66, 0xffff0000);
    surface.attach(Some(&buffer), 0, 0);
    surface.damage_buffer(0, 0, 1920, 66);
    surface.commit();
    h.roundtrip();
    h.roundtrip();
    for (x, y) in [(0, 1014), (1919, 1014), (1919, 1079), (960, 1050)] {
        assert_eq!(h.pixel(x, y), RED, "panel pixel ({x}, {y})");
    }
    assert_ne!(
        h.pixel(960, 1013),
        RED,
        "the panel is exactly 66 pixels tall"
    );
}

#[test]
fn toplevel_with_buffer_scale_2_covers_its_physical_pixels() {
    let mut h = harness_at(1920, 1080, 2.0);
    let w = h.toplevel("hidpi");
    let buffer = h.buffer(800, 600, 0xffff0000);
    w.surface.set_buffer_scale(2);
    w.surface.attach(Some(&buffer), 0, 0);
    w.surface.damage_buffer(0, 0, 800, 600);
    w.surface.commit();
    h.roundtrip();
    h.roundtrip();
    let rect = h.rect(h.window_id("hidpi"));
    assert_eq!((rect.w, rect.h), (400, 300), "logical size");
    let (x0, y0) = (rect.x * 2, rect.y * 2);
    for (x, y) in [
        (x0, y0),
        (x0 + 799, y0),
        (x0 + 799, y0 + 599),
        (x0, y0 + 599),
    ] {
        assert_eq!(h.pixel(x, y), RED, "window pixel ({x}, {y})");
    }
    assert_ne!(h.pixel(x0 + 800, y0 + 300), RED, "800 pixels wide");
    assert_ne!(h.pixel(x0 + 400, y0 + 600), RED, "600 pixels tall");
}
