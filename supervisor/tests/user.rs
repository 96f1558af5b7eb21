//! The runtime user's account in a fake /etc, and directory ownership.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use skerry_init::user::{Account, ensure_account, ensure_dir, lookup_uid};

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n";
const GROUP: &str = "root:x:0:\nvideo:x:44:\nalice:x:1000:\n";

fn etc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("passwd"), PASSWD).expect("passwd");
    std::fs::write(dir.path().join("group"), GROUP).expect("group");
    dir
}

/// Handing directories to another user is what root does; as anyone else it is skipped.
fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "changing owners needs root: run this test as root"
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("read")
}

#[test]
fn a_new_account_is_added() {
    let etc = etc();
    let acc =
        ensure_account(etc.path(), "skerry", 12345, 12346, Path::new("/config")).expect("account");
    assert_eq!(
        acc,
        Account {
            name: "skerry".into(),
            uid: 12345,
            gid: 12346,
            home: "/config".into()
        }
    );
    assert_eq!(
        read(etc.path(), "passwd"),
        format!("{PASSWD}skerry:x:12345:12346:Skerry:/config:/bin/sh\n")
    );
    assert_eq!(
        read(etc.path(), "group"),
        format!("{GROUP}skerry:x:12346:\n")
    );
    assert_eq!(
        lookup_uid(etc.path(), 12345),
        Some(("skerry".into(), "/config".into()))
    );
    // A second start changes nothing.
    ensure_account(etc.path(), "skerry", 12345, 12346, Path::new("/config")).expect("again");
    assert_eq!(read(etc.path(), "passwd").matches("skerry").count(), 1);
    assert_eq!(read(etc.path(), "group").matches("skerry").count(), 1);
}

#[test]
fn an_existing_account_of_that_name_moves_to_the_new_ids() {
    let etc = etc();
    ensure_account(etc.path(), "skerry", 1001, 1001, Path::new("/config")).expect("first");
    ensure_account(etc.path(), "skerry", 4000, 4001, Path::new("/config")).expect("moved");
    let passwd = read(etc.path(), "passwd");
    assert!(
        passwd.contains("skerry:x:4000:4001:Skerry:/config:/bin/sh\n"),
        "{passwd}"
    );
    assert!(!passwd.contains(":1001:"), "{passwd}");
    let group = read(etc.path(), "group");
    assert!(
        group.contains("skerry:x:4001:\n") && !group.contains(":1001:"),
        "{group}"
    );
}

#[test]
fn an_account_already_owning_the_uid_is_used_untouched() {
    let etc = etc();
    let acc =
        ensure_account(etc.path(), "skerry", 1000, 44, Path::new("/config")).expect("account");
    assert_eq!(acc.name, "alice");
    assert_eq!((acc.uid, acc.gid), (1000, 44));
    assert_eq!(read(etc.path(), "passwd"), PASSWD);
    // Group 44 exists (video): no group is added either.
    assert_eq!(read(etc.path(), "group"), GROUP);
}

#[test]
fn directories_get_owner_and_mode() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run/user/12345");
    ensure_dir(&run, 12345, 12346, Some(0o700), false).expect("runtime dir");
    let meta = std::fs::metadata(&run).expect("meta");
    assert_eq!(meta.mode() & 0o7777, 0o700);
    assert_eq!((meta.uid(), meta.gid()), (12345, 12346));
    // A wrong mode is corrected.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    ensure_dir(&run, 12345, 12346, Some(0o700), false).expect("again");
    assert_eq!(
        std::fs::metadata(&run).expect("meta").mode() & 0o7777,
        0o700
    );

    // A home with the wrong owner is handed over whole, without following links.
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("a/b")).expect("mkdir");
    std::fs::write(home.join("a/b/file"), "x").expect("write");
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "y").expect("write");
    std::os::unix::fs::symlink(&outside, home.join("link")).expect("symlink");
    // The streamer's folder is root's and stays so.
    std::fs::create_dir_all(home.join(".skerry/auth")).expect("mkdir");
    ensure_dir(&home, 2000, 2001, None, true).expect("home");
    for p in ["", "a", "a/b", "a/b/file"] {
        let m = std::fs::metadata(home.join(p)).expect("meta");
        assert_eq!((m.uid(), m.gid()), (2000, 2001), "{p}");
    }
    for p in [".skerry", ".skerry/auth"] {
        assert_eq!(
            std::fs::metadata(home.join(p)).expect("meta").uid(),
            0,
            "{p}"
        );
    }
    assert_eq!(std::fs::metadata(&outside).expect("meta").uid(), 0);
    // Already right at the top: the tree is not walked again.
    std::os::unix::fs::chown(home.join("a/b/file"), Some(0), Some(0)).expect("chown");
    ensure_dir(&home, 2000, 2001, None, true).expect("home again");
    assert_eq!(
        std::fs::metadata(home.join("a/b/file"))
            .expect("meta")
            .uid(),
        0
    );
}

#[test]
fn system_directories_are_never_given_away() {
    require_root();
    use skerry_init::user::is_system_dir;
    for d in [
        "/",
        "/usr",
        "/usr/sbin",
        "/etc/",
        "/var/lib/x",
        "/root",
        "/home",
        "/tmp",
        "/proc/1",
    ] {
        assert!(is_system_dir(Path::new(d)), "{d}");
    }
    for d in [
        "/config",
        "/home/skerry",
        "/tmp/x",
        "/var/skerry",
        "/usrx",
        "/data/home",
    ] {
        assert!(!is_system_dir(Path::new(d)), "{d}");
    }
    // /etc belongs to root here; asking to hand it over fails instead of walking it.
    let err = ensure_dir(Path::new("/etc"), 12345, 12345, None, true).expect_err("refused");
    assert!(err.to_string().contains("is a system directory"), "{err}");
    assert_eq!(std::fs::metadata("/etc").expect("meta").uid(), 0);
}
