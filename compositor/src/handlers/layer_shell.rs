//! wlr-layer-shell: panels, docks, wallpapers and overlays on the single output. Exclusive
//! zones shrink the area the layout places windows in.

use smithay::{
    delegate_layer_shell,
    desktop::{LayerSurface, PopupKind, layer_map_for_output},
    reexports::wayland_server::protocol::wl_output::WlOutput,
    wayland::shell::{
        wlr_layer::{
            Layer, LayerSurface as WlrLayerSurface, WlrLayerShellHandler, WlrLayerShellState,
        },
        xdg::PopupSurface,
    },
};

use crate::state::Skerry;

impl WlrLayerShellHandler for Skerry {
    fn shell_state(&mut self) -> &mut WlrLayerShellState {
        &mut self.layer_shell_state
    }

    fn new_layer_surface(
        &mut self,
        surface: WlrLayerSurface,
        _output: Option<WlOutput>,
        _layer: Layer,
        namespace: String,
    ) {
        // One output: every layer surface goes on it.
        let result =
            layer_map_for_output(&self.output).map_layer(&LayerSurface::new(surface, namespace));
        if let Err(e) = result {
            tracing::warn!("cannot map layer surface: {e}");
        }
    }

    fn new_popup(&mut self, _parent: WlrLayerSurface, popup: PopupSurface) {
        if let Err(e) = self.popups.track_popup(PopupKind::Xdg(popup)) {
            tracing::debug!("cannot track layer popup: {e}");
        }
    }

    fn layer_destroyed(&mut self, surface: WlrLayerSurface) {
        {
            let mut map = layer_map_for_output(&self.output);
            let found = map
                .layers()
                .find(|l| l.layer_surface() == &surface)
                .cloned();
            if let Some(layer) = found {
                map.unmap_layer(&layer);
            }
        }
        self.arrange_layers();
        self.apply_layout();
    }
}
delegate_layer_shell!(Skerry);
