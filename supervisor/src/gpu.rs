//! GPU discovery: which render node the compositor and streamer should use, which kernel
//! driver runs it, and which groups the runtime user needs to open it.
//!
//! The answer travels to the children as `SKERRY_GPU`, `SKERRY_GPU_DRIVER` and
//! `SKERRY_NVIDIA_VERSION`, so they never probe on their own and always agree. The roots of
//! /dev, /sys and /proc are parameters so tests describe machines as small directory trees.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::GpuChoice;

/// Where the device, sysfs and procfs trees are.
#[derive(Debug, Clone)]
pub struct Roots {
    pub dev: PathBuf,
    pub sys: PathBuf,
    pub proc: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            dev: "/dev".into(),
            sys: "/sys".into(),
            proc: "/proc".into(),
        }
    }
}

/// One DRM render node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderNode {
    pub path: PathBuf,
    /// The kernel driver's name (i915, amdgpu, nvidia-drm, virtio_gpu…), if sysfs says.
    pub driver: Option<String>,
    #[serde(skip)]
    pub gid: Option<u32>,
}

/// What was found, and what was chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Gpu {
    pub render_nodes: Vec<RenderNode>,
    /// `/dev/nvidia*` device nodes.
    pub nvidia_devices: Vec<PathBuf>,
    pub nvidia_version: Option<String>,
    /// The render node the compositor and streamer use; `None` is the CPU path.
    pub chosen: Option<PathBuf>,
    pub driver: Option<String>,
    /// Groups owning the chosen node and the NVIDIA nodes: given to every child.
    #[serde(skip)]
    pub groups: Vec<u32>,
}

impl Gpu {
    /// The environment the children get.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "SKERRY_GPU".to_string(),
            self.chosen
                .as_ref()
                .map_or_else(|| "none".to_string(), |p| p.display().to_string()),
        )];
        if let Some(d) = &self.driver {
            env.push(("SKERRY_GPU_DRIVER".into(), d.clone()));
        }
        if let Some(v) = &self.nvidia_version {
            env.push(("SKERRY_NVIDIA_VERSION".into(), v.clone()));
        }
        env
    }
}

/// Looks for render nodes and NVIDIA devices under `roots` and applies `choice`.
pub fn discover(roots: &Roots, choice: &GpuChoice) -> Gpu {
    let mut render_nodes: Vec<RenderNode> = list_dir(&roots.dev.join("dri"))
        .into_iter()
        .filter(|name| {
            name.strip_prefix("renderD")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|name| {
            let path = roots.dev.join("dri").join(&name);
            let driver = std::fs::read_link(
                roots
                    .sys
                    .join("class/drm")
                    .join(&name)
                    .join("device/driver"),
            )
            .ok()
            .and_then(|target| Some(target.file_name()?.to_string_lossy().into_owned()));
            let gid = path.metadata().ok().map(|m| m.gid());
            RenderNode { path, driver, gid }
        })
        .collect();
    render_nodes.sort_by_key(|n| {
        let name = n.path.file_name().map(|f| f.to_string_lossy().into_owned());
        name.and_then(|f| f["renderD".len()..].parse::<u32>().ok())
    });

    let mut nvidia_devices: Vec<PathBuf> = list_dir(&roots.dev)
        .into_iter()
        .filter(|name| name.starts_with("nvidia"))
        .map(|name| roots.dev.join(name))
        .collect();
    nvidia_devices.sort();
    let nvidia_version = std::fs::read_to_string(roots.proc.join("driver/nvidia/version"))
        .ok()
        .and_then(|text| parse_nvidia_version(&text));

    let chosen_node = match choice {
        GpuChoice::None => None,
        GpuChoice::Auto => render_nodes.first().cloned(),
        GpuChoice::Path(p) => Some(
            render_nodes
                .iter()
                .find(|n| &n.path == p)
                .cloned()
                .unwrap_or_else(|| RenderNode {
                    path: p.clone(),
                    driver: None,
                    gid: p.metadata().ok().map(|m| m.gid()),
                }),
        ),
    };
    let mut groups = Vec::new();
    if let Some(n) = &chosen_node {
        groups.extend(n.gid);
    }
    if chosen_node.is_some() || !matches!(choice, GpuChoice::None) {
        for d in &nvidia_devices {
            groups.extend(d.metadata().ok().map(|m| m.gid()));
        }
    }
    // Root's group grants nothing a child should get for a device.
    groups.retain(|&g| g != 0);
    groups.sort_unstable();
    groups.dedup();
    Gpu {
        chosen: chosen_node.as_ref().map(|n| n.path.clone()),
        driver: chosen_node.and_then(|n| n.driver),
        render_nodes,
        nvidia_devices,
        nvidia_version,
        groups,
    }
}

/// The version from `/proc/driver/nvidia/version`, e.g.
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 …`.
pub fn parse_nvidia_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version:"))?;
    line.split_whitespace()
        .find(|w| {
            w.contains('.')
                && w.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
}

fn list_dir(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
