//! The compositor's shortcuts typed through a virtual keyboard (`wtype`, a real
//! zwp_virtual_keyboard_v1 client, as the streamer is): they must not slip past the
//! compositor to the focused window. `wtype -M alt` holds Alt with a `modifiers` request
//! only, no key, as some clients do.

mod common;

use std::time::Duration;

use common::{Running, have, wait_for};

fn require(programs: &[&str]) {
    for p in programs {
        assert!(have(p), "{p} is not installed (see ci/packages.txt)");
    }
}

fn wtype(c: &Running, args: &[&str]) {
    let status = c.command("wtype").args(args).status().expect("run wtype");
    assert!(status.success(), "wtype {args:?} failed");
}

#[test]
fn alt_tab_and_alt_f4_from_a_virtual_keyboard() {
    require(&["foot", "wtype"]);
    let mut c = Running::start(&[], &["--no-xwayland"]);
    for id in ["vk-first", "vk-second"] {
        let mut foot = c.command("foot");
        foot.args(["--app-id", id, "sh", "-c", "sleep 600"]);
        c.spawn(foot);
        c.wait_toplevel(id, |t| t["app_id"] == id && t["activated"] == true);
    }

    // Alt held by a modifiers request, Tab tapped, Alt let go: the switch is committed.
    wtype(&c, &["-M", "alt", "-k", "Tab", "-m", "alt"]);
    c.wait_toplevel("the first window activated by Alt+Tab", |t| {
        t["app_id"] == "vk-first" && t["activated"] == true
    });

    // Alt+F4 closes the focused (first) window, and only it.
    wtype(&c, &["-M", "alt", "-k", "F4", "-m", "alt"]);
    wait_for("the first window to close", Duration::from_secs(20), || {
        c.toplevels()
            .iter()
            .all(|t| t["app_id"] != "vk-first")
            .then_some(())
    });
    c.wait_toplevel("the second window focused", |t| {
        t["app_id"] == "vk-second" && t["activated"] == true
    });

    assert!(c.alive(), "{}", c.log());
}
