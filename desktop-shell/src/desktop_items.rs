//! What the desktop shows as icons: the configured applications (`SKERRY_DESKTOP_APPS`)
//! followed by the contents of `~/Desktop`, and the watcher that notices when the folder
//! changes (inotify through `notify`, so an idle desktop costs nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::entry::{self, DesktopEntry};

/// What double-clicking an icon does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Launch(Box<DesktopEntry>),
    Open(PathBuf),
}

/// One icon on the desktop.
#[derive(Debug, Clone, PartialEq)]
pub struct DesktopItem {
    pub label: String,
    /// An icon name or path for an app; `None` shows the generic file or folder icon.
    pub icon: Option<String>,
    pub is_dir: bool,
    pub action: Action,
}

/// The default desktop apps when `SKERRY_DESKTOP_APPS` is unset: the terminal and the
/// browser, when installed.
pub const DEFAULT_APPS: &[&str] = &["foot.desktop", "chromium.desktop", "firefox-esr.desktop"];

/// Parses `SKERRY_DESKTOP_APPS` (comma-separated desktop-file ids; `.desktop` optional).
pub fn configured_apps(value: Option<&str>) -> Vec<String> {
    match value {
        None => DEFAULT_APPS.iter().map(|s| s.to_string()).collect(),
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.ends_with(".desktop") {
                    s.to_string()
                } else {
                    format!("{s}.desktop")
                }
            })
            .collect(),
    }
}

/// The desktop's icons: configured apps that exist, then the folder's entries sorted by
/// name (hidden files skipped).
pub fn desktop_items(
    apps: &[String],
    installed: &BTreeMap<String, DesktopEntry>,
    folder: &Path,
    locale: &str,
) -> Vec<DesktopItem> {
    let mut items: Vec<DesktopItem> = apps
        .iter()
        .filter_map(|id| installed.get(id))
        .filter(|e| !e.hidden && e.exec.is_some())
        .map(app_item)
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort_by_key(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()));
    for path in files {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".desktop")
            && path.is_file()
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            let e = entry::parse(&text, &name, &path, locale);
            if e.kind == "Application" && e.exec.is_some() && !e.hidden {
                items.push(app_item(&e));
                continue;
            }
        }
        items.push(DesktopItem {
            label: name,
            icon: None,
            is_dir: path.is_dir(),
            action: Action::Open(path),
        });
    }
    items
}

fn app_item(e: &DesktopEntry) -> DesktopItem {
    DesktopItem {
        label: e.name.clone(),
        icon: e.icon.clone(),
        is_dir: false,
        action: Action::Launch(Box::new(e.clone())),
    }
}

/// Watches a folder and calls `changed` (from the watcher's thread) when its contents
/// change. The folder is created when missing so there is something to watch.
pub fn watch(
    folder: &Path,
    changed: impl Fn() + Send + 'static,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    use notify::Watcher;
    if let Err(e) = std::fs::create_dir_all(folder) {
        tracing::warn!(folder = %folder.display(), error = %e, "cannot create the desktop folder");
    }
    let mut watcher =
        notify::recommended_watcher(move |ev: notify::Result<notify::Event>| match ev {
            Ok(ev) if !ev.kind.is_access() => changed(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "desktop folder watch"),
        })?;
    watcher.watch(folder, notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn apps_setting() {
        assert_eq!(configured_apps(None), DEFAULT_APPS);
        assert_eq!(
            configured_apps(Some(" foot , org.x.Y.desktop,,")),
            ["foot.desktop", "org.x.Y.desktop"]
        );
        assert!(configured_apps(Some("")).is_empty());
    }

    #[test]
    fn configured_apps_then_folder_contents() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Desktop");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("b.txt"), "x").unwrap();
        std::fs::create_dir(folder.join("A folder")).unwrap();
        std::fs::write(folder.join(".hidden"), "x").unwrap();
        std::fs::write(
            folder.join("tool.desktop"),
            "[Desktop Entry]\nType=Application\nName=My Tool\nIcon=tool\nExec=tool %F\n",
        )
        .unwrap();
        let mut installed = BTreeMap::new();
        let foot = entry::parse(
            "[Desktop Entry]\nType=Application\nName=Foot\nExec=foot\nIcon=foot\n",
            "foot.desktop",
            Path::new("/usr/share/applications/foot.desktop"),
            "C",
        );
        installed.insert("foot.desktop".to_string(), foot);
        let items = desktop_items(
            &["foot.desktop".into(), "missing.desktop".into()],
            &installed,
            &folder,
            "C",
        );
        let labels: Vec<_> = items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, ["Foot", "A folder", "b.txt", "My Tool"]);
        assert!(items[1].is_dir);
        assert_eq!(items[3].icon.as_deref(), Some("tool"));
        assert!(matches!(&items[2].action, Action::Open(p) if p.ends_with("b.txt")));
        assert!(matches!(&items[3].action, Action::Launch(e) if e.name == "My Tool"));
    }

    #[test]
    fn watcher_reports_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Desktop");
        let (tx, rx) = mpsc::channel();
        let _w = watch(&folder, move || {
            let _ = tx.send(());
        })
        .unwrap();
        std::fs::write(folder.join("new.txt"), "x").unwrap();
        rx.recv_timeout(Duration::from_secs(30))
            .expect("no change notification for a new file");
    }
}
