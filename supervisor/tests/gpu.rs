//! GPU discovery against small fake /dev, /sys and /proc trees.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use skerry_init::config::GpuChoice;
use skerry_init::gpu::{Roots, discover, parse_nvidia_version};

struct Machine {
    _dir: tempfile::TempDir,
    roots: Roots,
}

fn machine() -> Machine {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots = Roots {
        dev: dir.path().join("dev"),
        sys: dir.path().join("sys"),
        proc: dir.path().join("proc"),
    };
    for d in [&roots.dev, &roots.sys, &roots.proc] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    Machine { _dir: dir, roots }
}

impl Machine {
    /// A render node owned by group `gid`, driven by `driver` (a sysfs driver link).
    fn render_node(&self, name: &str, driver: Option<&str>, gid: u32) -> PathBuf {
        let node = self.roots.dev.join("dri").join(name);
        std::fs::create_dir_all(node.parent().expect("parent")).expect("mkdir");
        std::fs::write(&node, "").expect("node");
        std::os::unix::fs::chown(&node, None, Some(gid)).expect("chown");
        if let Some(driver) = driver {
            let drivers = self.roots.sys.join("bus/pci/drivers").join(driver);
            std::fs::create_dir_all(&drivers).expect("mkdir");
            let device = self.roots.sys.join("class/drm").join(name).join("device");
            std::fs::create_dir_all(&device).expect("mkdir");
            symlink(&drivers, device.join("driver")).expect("symlink");
        }
        node
    }

    fn file(&self, path: &Path, text: &str, gid: u32) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        std::os::unix::fs::chown(path, None, Some(gid)).expect("chown");
    }
}

#[test]
fn nothing_found_is_the_cpu_path() {
    let m = machine();
    let gpu = discover(&m.roots, &GpuChoice::Auto);
    assert!(gpu.render_nodes.is_empty() && gpu.nvidia_devices.is_empty());
    assert_eq!(gpu.chosen, None);
    assert!(gpu.groups.is_empty());
    assert_eq!(gpu.env(), [("SKERRY_GPU".to_string(), "none".to_string())]);
}

#[test]
fn first_render_node_with_its_driver_and_group() {
    let m = machine();
    m.render_node("renderD129", Some("amdgpu"), 44);
    let first = m.render_node("renderD128", Some("i915"), 107);
    // A card node and a stray name are not render nodes.
    m.file(&m.roots.dev.join("dri/card0"), "", 44);
    m.file(&m.roots.dev.join("dri/renderDx"), "", 44);
    let gpu = discover(&m.roots, &GpuChoice::Auto);
    assert_eq!(gpu.render_nodes.len(), 2);
    assert_eq!(gpu.chosen.as_deref(), Some(first.as_path()));
    assert_eq!(gpu.driver.as_deref(), Some("i915"));
    assert_eq!(gpu.groups, [107]);
    let env = gpu.env();
    assert_eq!(env[0], ("SKERRY_GPU".into(), first.display().to_string()));
    assert_eq!(env[1], ("SKERRY_GPU_DRIVER".into(), "i915".into()));
    assert_eq!(gpu.render_nodes[1].driver.as_deref(), Some("amdgpu"));
}

#[test]
fn choice_none_and_an_explicit_node() {
    let m = machine();
    m.render_node("renderD128", Some("virtio_gpu"), 107);
    let second = m.render_node("renderD129", None, 108);
    assert_eq!(discover(&m.roots, &GpuChoice::None).chosen, None);
    assert!(discover(&m.roots, &GpuChoice::None).groups.is_empty());
    let gpu = discover(&m.roots, &GpuChoice::Path(second.clone()));
    assert_eq!(gpu.chosen, Some(second));
    // No driver link in sysfs: unknown driver, still usable.
    assert_eq!(gpu.driver, None);
    assert_eq!(gpu.groups, [108]);
}

#[test]
fn nvidia_devices_and_version() {
    let m = machine();
    m.render_node("renderD128", Some("nvidia-drm"), 44);
    m.file(&m.roots.dev.join("nvidia0"), "", 45);
    m.file(&m.roots.dev.join("nvidiactl"), "", 45);
    m.file(&m.roots.dev.join("nvidia-uvm"), "", 46);
    m.file(
        &m.roots.proc.join("driver/nvidia/version"),
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n\
         GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
        0,
    );
    let gpu = discover(&m.roots, &GpuChoice::Auto);
    assert_eq!(gpu.driver.as_deref(), Some("nvidia-drm"));
    assert_eq!(gpu.nvidia_devices.len(), 3);
    assert_eq!(gpu.nvidia_version.as_deref(), Some("535.104.05"));
    assert_eq!(gpu.groups, [44, 45, 46]);
    assert!(
        gpu.env()
            .contains(&("SKERRY_NVIDIA_VERSION".into(), "535.104.05".into()))
    );
}

#[test]
fn nvidia_version_parsing() {
    assert_eq!(
        parse_nvidia_version(
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build\n"
        )
        .as_deref(),
        Some("550.54.14")
    );
    assert_eq!(parse_nvidia_version("garbage"), None);
    assert_eq!(parse_nvidia_version("NVRM version: no number here"), None);
}
