//! Clipboard and primary selection through data-control: the streamer watches both
//! selections like a clipboard manager does, and becomes their owner when a browser copies.
//!
//! `ext_data_control_manager_v1` is preferred, `zwlr_data_control_manager_v1` is the
//! fallback (older wlroots compositors, and Debian 12's wl-clipboard). The two protocols
//! are the same shape, so small enums wrap their objects and one macro writes the `Dispatch`
//! impls for both.
//!
//! Transfers never block the capture thread: each read of an app's selection and each write
//! to an app reading ours runs on a short-lived helper thread with its own deadline, so a
//! peer that never reads or never closes costs a thread for a few seconds, not the stream.
//!
//! Our own sources offer one extra private type ([`OWN_MIME`]); a selection offering it is
//! ours coming back and is not read, so a browser's copy is never echoed to the browsers.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use wayland_client::backend::ObjectId;
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols::ext::data_control::v1::client::{
    ext_data_control_device_v1::{self, ExtDataControlDeviceV1},
    ext_data_control_manager_v1::ExtDataControlManagerV1,
    ext_data_control_offer_v1::{self, ExtDataControlOfferV1},
    ext_data_control_source_v1::{self, ExtDataControlSourceV1},
};
use wayland_protocols_wlr::data_control::v1::client::{
    zwlr_data_control_device_v1::{self, ZwlrDataControlDeviceV1},
    zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
    zwlr_data_control_offer_v1::{self, ZwlrDataControlOfferV1},
    zwlr_data_control_source_v1::{self, ZwlrDataControlSourceV1},
};

use super::state::State;
use crate::clipboard::{ClipboardData, ClipboardEvent, PNG_MIME, Selection, TEXT_MIMES};
use crate::desktop::{CaptureEvent, CaptureSink};

/// Offered by every source the streamer creates, so it recognises its own selection.
pub const OWN_MIME: &str = "application/x-skerry-streamer";
/// A transfer that makes no progress for this long is abandoned.
const STALL: Duration = Duration::from_secs(5);

/// The data-control manager the compositor offered.
pub enum Manager {
    Ext(ExtDataControlManagerV1),
    Wlr(ZwlrDataControlManagerV1),
}

enum Device {
    Ext(ExtDataControlDeviceV1),
    Wlr(ZwlrDataControlDeviceV1),
}

pub enum Offer {
    Ext(ExtDataControlOfferV1),
    Wlr(ZwlrDataControlOfferV1),
}

enum Source {
    Ext(ExtDataControlSourceV1),
    Wlr(ZwlrDataControlSourceV1),
}

impl Offer {
    fn id(&self) -> ObjectId {
        match self {
            Self::Ext(o) => o.id(),
            Self::Wlr(o) => o.id(),
        }
    }

    fn receive(&self, mime: &str, fd: std::os::fd::BorrowedFd<'_>) {
        match self {
            Self::Ext(o) => o.receive(mime.to_owned(), fd),
            Self::Wlr(o) => o.receive(mime.to_owned(), fd),
        }
    }

    fn destroy(&self) {
        match self {
            Self::Ext(o) => o.destroy(),
            Self::Wlr(o) => o.destroy(),
        }
    }
}

impl Source {
    fn id(&self) -> ObjectId {
        match self {
            Self::Ext(s) => s.id(),
            Self::Wlr(s) => s.id(),
        }
    }

    fn offer(&self, mime: &str) {
        match self {
            Self::Ext(s) => s.offer(mime.to_owned()),
            Self::Wlr(s) => s.offer(mime.to_owned()),
        }
    }

    fn destroy(&self) {
        match self {
            Self::Ext(s) => s.destroy(),
            Self::Wlr(s) => s.destroy(),
        }
    }
}

/// An offer whose types are still arriving, or the current selection's offer.
struct Described {
    offer: Offer,
    mimes: Vec<String>,
}

/// The clipboard side of the capture thread's state.
#[derive(Default)]
pub struct Clipboard {
    pub manager: Option<Manager>,
    device: Option<Device>,
    /// Largest selection read or accepted; 0 turns the clipboard off.
    limit: usize,
    /// Offers announced by `data_offer`, waiting for their `selection` event.
    pending: Vec<Described>,
    /// Each selection's current offer (index: [`Selection::wire`]).
    current: [Option<Described>; 2],
    /// Bumped on every selection change; a read finishing late is dropped.
    generation: [Arc<AtomicU64>; 2],
    /// Our sources and what they serve.
    sources: Vec<(Source, Arc<ClipboardData>)>,
}

fn index(selection: Selection) -> usize {
    usize::from(selection.wire())
}

/// The type to read from an offer: text first, then PNG.
fn best_mime(mimes: &[String]) -> Option<&str> {
    TEXT_MIMES
        .iter()
        .chain(std::iter::once(&PNG_MIME))
        .find(|m| mimes.iter().any(|o| o == *m))
        .copied()
}

impl State {
    /// Binds the data-control device for our seat, if the compositor offers data-control.
    pub fn setup_clipboard(&mut self, qh: &QueueHandle<State>) {
        let limit = self.options.clipboard_max;
        let Some(seat) = self.globals.seat.clone() else {
            tracing::info!("no seat: clipboard sync is off");
            return;
        };
        let clip = &mut self.clipboard;
        clip.limit = limit;
        if limit == 0 {
            tracing::info!("SKERRY_CLIPBOARD_MAX=0: clipboard sync is off");
            return;
        }
        clip.device = match &clip.manager {
            Some(Manager::Ext(m)) => Some(Device::Ext(m.get_data_device(&seat, qh, ()))),
            Some(Manager::Wlr(m)) => Some(Device::Wlr(m.get_data_device(&seat, qh, ()))),
            None => {
                tracing::info!("the compositor offers no data-control protocol: clipboard off");
                None
            }
        };
    }

    /// Makes the streamer the owner of a selection (a browser copied something).
    pub fn set_clipboard(&mut self, data: ClipboardData) {
        let Some(qh) = self.qh.clone() else { return };
        let clip = &mut self.clipboard;
        if data.data.len() > clip.limit {
            tracing::info!(?data, "clipboard content over the limit, ignored");
            return;
        }
        let source = match (&clip.manager, &clip.device) {
            (Some(Manager::Ext(m)), Some(Device::Ext(_))) => {
                Source::Ext(m.create_data_source(&qh, ()))
            }
            (Some(Manager::Wlr(m)), Some(Device::Wlr(d))) => {
                if data.selection == Selection::Primary && d.version() < 2 {
                    tracing::debug!("zwlr_data_control v1 has no primary selection");
                    return;
                }
                Source::Wlr(m.create_data_source(&qh, ()))
            }
            _ => {
                tracing::debug!("no data-control device: browser clipboard dropped");
                return;
            }
        };
        if data.is_text() {
            for m in TEXT_MIMES {
                source.offer(m);
            }
        } else {
            source.offer(&data.mime);
        }
        source.offer(OWN_MIME);
        match (&clip.device, &source, data.selection) {
            (Some(Device::Ext(d)), Source::Ext(s), Selection::Clipboard) => {
                d.set_selection(Some(s));
            }
            (Some(Device::Ext(d)), Source::Ext(s), Selection::Primary) => {
                d.set_primary_selection(Some(s));
            }
            (Some(Device::Wlr(d)), Source::Wlr(s), Selection::Clipboard) => {
                d.set_selection(Some(s));
            }
            (Some(Device::Wlr(d)), Source::Wlr(s), Selection::Primary) => {
                d.set_primary_selection(Some(s));
            }
            _ => {}
        }
        tracing::debug!(?data, "the streamer owns the selection");
        clip.sources.push((source, Arc::new(data)));
    }

    fn clipboard_offer(&mut self, offer: Offer) {
        self.clipboard.pending.push(Described {
            offer,
            mimes: Vec::new(),
        });
    }

    fn clipboard_offer_mime(&mut self, offer: &ObjectId, mime: String) {
        let clip = &mut self.clipboard;
        let described = clip
            .pending
            .iter_mut()
            .chain(clip.current.iter_mut().flatten())
            .find(|d| d.offer.id() == *offer);
        if let Some(d) = described {
            d.mimes.push(mime);
        }
    }

    /// A selection changed: read it unless it is ours or empty.
    fn clipboard_selection(&mut self, selection: Selection, offer: Option<ObjectId>) {
        let clip = &mut self.clipboard;
        let i = index(selection);
        clip.generation[i].fetch_add(1, Ordering::AcqRel);
        if let Some(old) = clip.current[i].take() {
            old.offer.destroy();
        }
        let Some(id) = offer else { return };
        let Some(pos) = clip.pending.iter().position(|d| d.offer.id() == id) else {
            return;
        };
        let described = clip.pending.swap_remove(pos);
        let ours = described.mimes.iter().any(|m| m == OWN_MIME);
        let mime = best_mime(&described.mimes).map(str::to_owned);
        if let (Some(mime), false) = (mime, ours) {
            {
                match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                    Ok((read, write)) => {
                        described.offer.receive(&mime, write.as_fd());
                        // The request carries its own copy of the write end; ours must
                        // close so the read sees end-of-file when the app is done.
                        drop(write);
                        spawn_read(
                            self.sink.clone(),
                            ReadJob {
                                selection,
                                mime,
                                fd: read,
                                limit: clip.limit,
                                generation: clip.generation[i].clone(),
                                expected: clip.generation[i].load(Ordering::Acquire),
                            },
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "no pipe for a clipboard read"),
                }
            }
        }
        clip.current[i] = Some(described);
    }

    fn clipboard_send(&mut self, source: &ObjectId, mime: &str, fd: OwnedFd) {
        let data = self
            .clipboard
            .sources
            .iter()
            .find(|(s, _)| s.id() == *source)
            .map(|(_, d)| d.clone());
        // Our marker type carries nothing; dropping the fd ends that read.
        if let (Some(data), false) = (data, mime == OWN_MIME) {
            spawn_write(data, fd);
        }
    }

    fn clipboard_cancelled(&mut self, source: &ObjectId) {
        let sources = &mut self.clipboard.sources;
        if let Some(pos) = sources.iter().position(|(s, _)| s.id() == *source) {
            let (s, _) = sources.swap_remove(pos);
            s.destroy();
        }
    }

    fn clipboard_finished(&mut self) {
        tracing::warn!("the compositor ended our data-control device: clipboard sync is off");
        self.clipboard.device = None;
    }
}

struct ReadJob {
    selection: Selection,
    mime: String,
    fd: OwnedFd,
    limit: usize,
    generation: Arc<AtomicU64>,
    expected: u64,
}

/// Waits until `fd` is ready for `flags`, or the stall deadline passes.
fn wait_ready(fd: &OwnedFd, flags: PollFlags) -> bool {
    let deadline = Instant::now() + STALL;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(fd, flags)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    if let Ok(flags) = rustix::fs::fcntl_getfl(fd) {
        let _ = rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK);
    }
}

/// Outcome of reading an app's selection.
enum Read {
    Done(Vec<u8>),
    TooBig,
    Failed(String),
}

fn read_all(fd: &OwnedFd, limit: usize) -> Read {
    set_nonblocking(fd);
    let mut data = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return Read::Done(data),
            Ok(n) => {
                if data.len() + n > limit {
                    return Read::TooBig;
                }
                data.extend_from_slice(&buf[..n]);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                if !wait_ready(fd, PollFlags::IN) {
                    return Read::Failed("the app stopped sending".into());
                }
            }
            Err(e) => return Read::Failed(e.to_string()),
        }
    }
}

fn spawn_read(sink: Arc<dyn CaptureSink>, job: ReadJob) {
    let spawned = std::thread::Builder::new()
        .name("clipboard-read".into())
        .spawn(move || {
            let result = read_all(&job.fd, job.limit);
            if job.generation.load(Ordering::Acquire) != job.expected {
                return; // The selection changed again meanwhile.
            }
            let event = match result {
                Read::Done(data) => ClipboardEvent::Changed(ClipboardData {
                    selection: job.selection,
                    mime: job.mime,
                    data: Arc::from(data),
                }),
                Read::TooBig => {
                    tracing::info!(
                        mime = %job.mime,
                        limit = job.limit,
                        "selection over the limit"
                    );
                    ClipboardEvent::TooBig {
                        selection: job.selection,
                        mime: job.mime,
                        limit: job.limit,
                    }
                }
                Read::Failed(why) => {
                    tracing::info!(mime = %job.mime, %why, "reading the selection failed");
                    return;
                }
            };
            sink.deliver(CaptureEvent::Clipboard(event));
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a clipboard read");
    }
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) -> Result<(), String> {
    set_nonblocking(fd);
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                if !wait_ready(fd, PollFlags::OUT) {
                    return Err("the app stopped reading".into());
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

fn spawn_write(data: Arc<ClipboardData>, fd: OwnedFd) {
    let spawned = std::thread::Builder::new()
        .name("clipboard-write".into())
        .spawn(move || {
            if let Err(why) = write_all(&fd, &data.data) {
                tracing::info!(%why, "serving the selection failed");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a clipboard write");
    }
}

/// The `Dispatch` impls of one data-control protocol, which differ only in names.
macro_rules! data_control {
    ($variant:ident, $manager:ty, $device_mod:ident, $device:ty,
     $offer_mod:ident, $offer:ty, $source_mod:ident, $source:ty) => {
        impl Dispatch<$manager, ()> for State {
            fn event(
                _: &mut Self,
                _: &$manager,
                _: <$manager as Proxy>::Event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
            }
        }

        impl Dispatch<$device, ()> for State {
            fn event(
                state: &mut Self,
                _: &$device,
                event: $device_mod::Event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
                match event {
                    $device_mod::Event::DataOffer { id } => {
                        state.clipboard_offer(Offer::$variant(id));
                    }
                    $device_mod::Event::Selection { id } => {
                        state.clipboard_selection(Selection::Clipboard, id.map(|o| o.id()));
                    }
                    $device_mod::Event::PrimarySelection { id } => {
                        state.clipboard_selection(Selection::Primary, id.map(|o| o.id()));
                    }
                    $device_mod::Event::Finished => state.clipboard_finished(),
                    _ => {}
                }
            }

            wayland_client::event_created_child!(State, $device, [
                $device_mod::EVT_DATA_OFFER_OPCODE => ($offer, ()),
            ]);
        }

        impl Dispatch<$offer, ()> for State {
            fn event(
                state: &mut Self,
                offer: &$offer,
                event: $offer_mod::Event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
                if let $offer_mod::Event::Offer { mime_type } = event {
                    state.clipboard_offer_mime(&offer.id(), mime_type);
                }
            }
        }

        impl Dispatch<$source, ()> for State {
            fn event(
                state: &mut Self,
                source: &$source,
                event: $source_mod::Event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
                match event {
                    $source_mod::Event::Send { mime_type, fd } => {
                        state.clipboard_send(&source.id(), &mime_type, fd);
                    }
                    $source_mod::Event::Cancelled => state.clipboard_cancelled(&source.id()),
                    _ => {}
                }
            }
        }
    };
}

data_control!(
    Ext,
    ExtDataControlManagerV1,
    ext_data_control_device_v1,
    ExtDataControlDeviceV1,
    ext_data_control_offer_v1,
    ExtDataControlOfferV1,
    ext_data_control_source_v1,
    ExtDataControlSourceV1
);
data_control!(
    Wlr,
    ZwlrDataControlManagerV1,
    zwlr_data_control_device_v1,
    ZwlrDataControlDeviceV1,
    zwlr_data_control_offer_v1,
    ZwlrDataControlOfferV1,
    zwlr_data_control_source_v1,
    ZwlrDataControlSourceV1
);

/// Binds a data-control manager from the registry: ext is kept over wlr.
pub fn bind_manager(
    clip: &mut Clipboard,
    registry: &wayland_client::protocol::wl_registry::WlRegistry,
    name: u32,
    interface: &str,
    version: u32,
    qh: &QueueHandle<State>,
) {
    match interface {
        "ext_data_control_manager_v1" => {
            if let Some(Manager::Wlr(old)) = &clip.manager {
                old.destroy();
            }
            clip.manager = Some(Manager::Ext(registry.bind(name, 1, qh, ())));
        }
        "zwlr_data_control_manager_v1" if !matches!(clip.manager, Some(Manager::Ext(_))) => {
            clip.manager = Some(Manager::Wlr(registry.bind(name, version.min(2), qh, ())));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_preferred_over_png() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            best_mime(&m(&["image/png", "text/plain", "UTF8_STRING"])),
            Some("UTF8_STRING")
        );
        assert_eq!(
            best_mime(&m(&["image/png", "text/html"])),
            Some("image/png")
        );
        assert_eq!(best_mime(&m(&["text/html"])), None);
    }
}
