//! Who is connected: every WebSocket session joins here with its identity and role, and
//! every connection is told the new list (`peers`, docs/protocol.md) whenever someone comes
//! or goes. Sessions can also be ended from here, when their share link is revoked or their
//! owner logs out.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::pipeline::fanout::Viewer;
use crate::proto::{PeerInfo, Role, ServerMessage};

/// What [`Presence::kick`] can select connections by.
pub struct MemberInfo {
    pub sid: Option<String>,
    pub link: Option<String>,
}

struct Entry {
    id: u64,
    identity: String,
    role: Role,
    info: MemberInfo,
    viewer: Arc<Viewer>,
    kick: watch::Sender<bool>,
}

#[derive(Default)]
pub struct Presence {
    entries: Mutex<Vec<Entry>>,
}

/// One connection's membership; leaving happens on drop.
pub struct Member {
    presence: Arc<Presence>,
    id: u64,
    kicked: watch::Receiver<bool>,
}

impl Member {
    /// Resolves when this connection's access was withdrawn.
    pub async fn revoked(&mut self) {
        let _ = self.kicked.wait_for(|k| *k).await;
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.presence.leave(self.id);
    }
}

impl Presence {
    /// Adds a connection (keyed by its viewer id) and tells everyone.
    pub fn join(
        self: &Arc<Self>,
        viewer: &Arc<Viewer>,
        identity: &str,
        role: Role,
        info: MemberInfo,
    ) -> Member {
        let (kick, kicked) = watch::channel(false);
        if let Ok(mut e) = self.entries.lock() {
            e.push(Entry {
                id: viewer.id,
                identity: identity.to_owned(),
                role,
                info,
                viewer: viewer.clone(),
                kick,
            });
        }
        self.announce();
        Member {
            presence: self.clone(),
            id: viewer.id,
            kicked,
        }
    }

    fn leave(&self, id: u64) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|x| x.id != id);
        }
        self.announce();
    }

    /// Ends every connection `select` picks.
    pub fn kick(&self, select: impl Fn(&MemberInfo) -> bool) {
        if let Ok(e) = self.entries.lock() {
            for x in e.iter().filter(|x| select(&x.info)) {
                let _ = x.kick.send(true);
            }
        }
    }

    /// The connected sessions as `viewer_id` sees them.
    pub fn list(&self, viewer_id: u64) -> Vec<PeerInfo> {
        self.entries
            .lock()
            .map(|e| {
                e.iter()
                    .map(|x| PeerInfo {
                        identity: x.identity.clone(),
                        role: x.role,
                        you: x.id == viewer_id,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn announce(&self) {
        let Ok(e) = self.entries.lock() else { return };
        for to in e.iter() {
            let peers = e
                .iter()
                .map(|x| PeerInfo {
                    identity: x.identity.clone(),
                    role: x.role,
                    you: x.id == to.id,
                })
                .collect();
            to.viewer
                .send_text(ServerMessage::Peers { peers }.to_json());
        }
    }
}
