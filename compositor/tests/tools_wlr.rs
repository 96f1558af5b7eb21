//! Stock wlroots tools against the protocols, over a real Wayland socket: `grim`
//! (screencopy) takes screenshots whose pixels are where the output has them, and
//! `wlr-randr` (output management) changes the mode and scale, which later screenshots
//! follow. The server renders a known image whenever a frame is asked for.

#[macro_use]
mod proto_harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto_harness::{Server, make_output, pattern, run_ok};
use skerry_compositor::protocols::capture::{Image, RenderedOutput};
use skerry_compositor::protocols::output_management::{
    ModeRequest, OutputConfigError, OutputConfiguration, OutputManagementHandler,
    OutputManagementState,
};
use skerry_compositor::protocols::screencopy::{ScreencopyHandler, ScreencopyManagerState};
use smithay::output::{Mode, Output, Scale};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use smithay::wayland::shm::{ShmHandler, ShmState};

struct State {
    compositor: smithay::wayland::compositor::CompositorState,
    shm: ShmState,
    _outputs: OutputManagerState,
    screencopy: ScreencopyManagerState,
    management: OutputManagementState,
    output: Output,
}

/// The output's content: left half red, right half blue, a green 10x10 square at (20, 30).
fn output_pixel(width: i32) -> impl Fn(i32, i32) -> [u8; 4] {
    move |x, y| {
        if (20..30).contains(&x) && (30..40).contains(&y) {
            [0, 0xff, 0, 0xff]
        } else if x < width / 2 {
            [0, 0, 0xff, 0xff]
        } else {
            [0xff, 0, 0, 0xff]
        }
    }
}

impl State {
    /// Stands in for the compositor's render loop: renders as soon as a frame is wanted.
    fn render(&mut self) {
        let Some(mode) = self.output.current_mode() else {
            return;
        };
        let (w, h) = (mode.size.w, mode.size.h);
        let pixels = pattern(w, h, output_pixel(w));
        let full = [smithay::utils::Rectangle::from_size(mode.size)];
        self.screencopy.on_output_rendered(&RenderedOutput {
            output: &self.output,
            image: Image {
                size: mode.size,
                stride: (w * 4) as usize,
                pixels: &pixels,
            },
            damage: &full,
            cursor: None,
            time: Duration::from_millis(16),
        });
    }
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {}
}
impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}
impl OutputHandler for State {}
impl ScreencopyHandler for State {
    fn screencopy_state(&mut self) -> &mut ScreencopyManagerState {
        &mut self.screencopy
    }
    fn screencopy_frame_requested(&mut self, _output: &Output) {
        self.render();
    }
}
impl OutputManagementHandler for State {
    fn output_management_state(&mut self) -> &mut OutputManagementState {
        &mut self.management
    }
    fn apply_output_configuration(
        &mut self,
        config: OutputConfiguration,
    ) -> Result<(), OutputConfigError> {
        for head in config.heads {
            let mode = match head.mode {
                Some(ModeRequest::Advertised(mode)) => Some(mode),
                Some(ModeRequest::Custom { size, .. }) => Some(Mode {
                    size,
                    refresh: 60_000,
                }),
                None => None,
            };
            head.output.change_current_state(
                mode,
                head.transform,
                head.scale.map(Scale::Fractional),
                head.position,
            );
            self.screencopy.output_changed(&head.output);
        }
        Ok(())
    }
}
smithay::delegate_shm!(State);
smithay::delegate_output!(State);
test_compositor!(State);
skerry_compositor::delegate_screencopy!(State);
skerry_compositor::delegate_output_management!(State);

fn start(dir: &Path) -> (Server<State>, PathBuf) {
    let socket = dir.join("wayland-skerry-test");
    let server = Server::start_listening(socket.clone(), |display| {
        let output = make_output("HEADLESS-1", 320, 200);
        output.create_global::<State>(display);
        let mut management = OutputManagementState::new::<State>(display, |_| true);
        management.add_head::<State>(&output);
        State {
            compositor: smithay::wayland::compositor::CompositorState::new::<State>(display),
            shm: ShmState::new::<State>(display, []),
            _outputs: OutputManagerState::new_with_xdg_output::<State>(display),
            screencopy: ScreencopyManagerState::new::<State>(display, |_| true),
            management,
            output,
        }
    });
    (server, socket)
}

/// Takes a screenshot with grim and decodes it as RGBA.
fn grim(socket: &Path, dir: &Path) -> (u32, u32, Vec<u8>) {
    let path = dir.join("shot.png");
    let _ = std::fs::remove_file(&path);
    run_ok(
        socket,
        "grim",
        &["-t", "png", path.to_str().expect("utf-8 path")],
    );
    let decoder = png::Decoder::new(std::fs::File::open(&path).expect("grim wrote a png"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png data");
    let channels = info.color_type.samples();
    let rgba = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2], if channels == 4 { p[3] } else { 0xff }])
        .collect();
    (info.width, info.height, rgba)
}

fn rgb_at(image: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
    let i = ((y * image.0 + x) * 4) as usize;
    [image.2[i], image.2[i + 1], image.2[i + 2]]
}

const RED: [u8; 3] = [0xff, 0, 0];
const BLUE: [u8; 3] = [0, 0, 0xff];
const GREEN: [u8; 3] = [0, 0xff, 0];

#[test]
fn grim_screenshot_has_the_output_pixels_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, socket) = start(dir.path());
    let shot = grim(&socket, dir.path());
    assert_eq!((shot.0, shot.1), (320, 200));
    assert_eq!(rgb_at(&shot, 0, 0), RED);
    assert_eq!(rgb_at(&shot, 159, 199), RED);
    assert_eq!(rgb_at(&shot, 160, 0), BLUE);
    assert_eq!(rgb_at(&shot, 319, 199), BLUE);
    assert_eq!(rgb_at(&shot, 20, 30), GREEN);
    assert_eq!(rgb_at(&shot, 29, 39), GREEN);
    assert_eq!(rgb_at(&shot, 30, 39), RED);
}

#[test]
fn wlr_randr_changes_mode_and_scale_and_grim_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, socket) = start(dir.path());
    let listing = run_ok(&socket, "wlr-randr", &[]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("HEADLESS-1"), "{listing}");
    assert!(listing.contains("320x200"), "{listing}");

    run_ok(
        &socket,
        "wlr-randr",
        &["--output", "HEADLESS-1", "--custom-mode", "1280x720"],
    );
    let mode = server.with(|s, _| s.output.current_mode().map(|m| m.size));
    assert_eq!(mode, Some((1280, 720).into()));
    let listing = run_ok(&socket, "wlr-randr", &[]);
    assert!(String::from_utf8_lossy(&listing.stdout).contains("1280x720"));
    let shot = grim(&socket, dir.path());
    assert_eq!((shot.0, shot.1), (1280, 720));
    assert_eq!(rgb_at(&shot, 639, 719), RED);
    assert_eq!(rgb_at(&shot, 640, 0), BLUE);

    run_ok(
        &socket,
        "wlr-randr",
        &["--output", "HEADLESS-1", "--scale", "2"],
    );
    let scale = server.with(|s, _| s.output.current_scale().fractional_scale());
    assert_eq!(scale, 2.0);
    let shot = grim(&socket, dir.path());
    assert_eq!(
        (shot.0, shot.1),
        (1280, 720),
        "grim captures at the output's scale"
    );
    assert_eq!(rgb_at(&shot, 25, 35), GREEN);

    run_ok(
        &socket,
        "wlr-randr",
        &[
            "--output",
            "HEADLESS-1",
            "--custom-mode",
            "320x200",
            "--scale",
            "1",
        ],
    );
    let shot = grim(&socket, dir.path());
    assert_eq!((shot.0, shot.1), (320, 200));
}
