//! What root keeps once the services run for another desktop user.
//!
//! After start, skerry-init needs only to start services as that user and to signal them:
//! it keeps `CAP_SETUID`, `CAP_SETGID` and `CAP_KILL` and drops every other capability from
//! its effective, permitted, inheritable and ambient sets and from the bounding set, so no
//! later exec — a set-user-ID program started in the desktop included — regains one. It looks
//! at the user's own files (a service's readiness socket in `XDG_RUNTIME_DIR`) with that
//! user's rights (`setfsuid`), never with root's.

use caps::{CapSet, Capability, CapsHashSet};

/// The capabilities kept: starting services as the desktop user, and signalling them.
pub const KEPT: [Capability; 3] = [
    Capability::CAP_SETUID,
    Capability::CAP_SETGID,
    Capability::CAP_KILL,
];

/// Drops every capability but [`KEPT`]. The bounding set needs `CAP_SETPCAP`: without it
/// (a runtime that removed it) the other sets are still reduced and the error says so.
pub fn drop_all_but_kept() -> Result<(), caps::errors::CapsError> {
    let keep: CapsHashSet = KEPT.into_iter().collect();
    let mut bounding = Ok(());
    for cap in caps::read(None, CapSet::Bounding)? {
        if !keep.contains(&cap)
            && let Err(e) = caps::drop(None, CapSet::Bounding, cap)
        {
            bounding = Err(e);
            break;
        }
    }
    caps::clear(None, CapSet::Ambient)?;
    caps::clear(None, CapSet::Inheritable)?;
    let kept: CapsHashSet = caps::read(None, CapSet::Permitted)?
        .intersection(&keep)
        .copied()
        .collect();
    caps::set(None, CapSet::Effective, &kept)?;
    caps::set(None, CapSet::Permitted, &kept)?;
    bounding
}

/// Runs `f` with file-system permission checks made as `uid:gid`, on this thread.
pub fn as_user<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> T {
    let old_gid = nix::unistd::setfsgid(gid.into());
    let old_uid = nix::unistd::setfsuid(uid.into());
    let out = f();
    nix::unistd::setfsuid(old_uid);
    nix::unistd::setfsgid(old_gid);
    out
}
