//! The installed applications: every `applications/` directory of the XDG data dirs,
//! merged by desktop-file id, and the start menu's view of them (categories and search).
//!
//! Kept free of Wayland so the menu's behaviour is tested as plain data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::entry::{self, DesktopEntry};

/// The data directories to search, most important first: `$XDG_DATA_HOME` (default
/// `~/.local/share`), then `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`).
pub fn data_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(home) => dirs.push(PathBuf::from(home)),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                dirs.push(PathBuf::from(home).join(".local/share"));
            }
        }
    }
    let system = std::env::var("XDG_DATA_DIRS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".to_string());
    dirs.extend(std::env::split_paths(&system));
    dirs
}

/// Reads every `.desktop` file under `dir` (recursively); ids use `prefix` for the
/// subdirectories (`kde/foo.desktop` → `kde-foo.desktop`).
fn scan_dir(dir: &Path, prefix: &str, locale: &str, out: &mut BTreeMap<String, DesktopEntry>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for item in read.flatten() {
        let path = item.path();
        let name = item.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            scan_dir(&path, &format!("{prefix}{name}-"), locale, out);
            continue;
        }
        if !name.ends_with(".desktop") {
            continue;
        }
        let id = format!("{prefix}{name}");
        // An earlier (more important) directory already defined this id.
        if out.contains_key(&id) {
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                out.insert(id.clone(), entry::parse(&text, &id, &path, locale));
            }
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "unreadable desktop file")
            }
        }
    }
}

/// Every desktop entry found under `data_dirs`, by id, including hidden ones (a `Hidden`
/// entry in `~/.local/share` masks the system one of the same id).
pub fn load_entries(data_dirs: &[PathBuf], locale: &str) -> BTreeMap<String, DesktopEntry> {
    let mut out = BTreeMap::new();
    for dir in data_dirs {
        scan_dir(&dir.join("applications"), "", locale, &mut out);
    }
    out
}

/// Watches the `applications` directories that exist under `data_dirs` and calls
/// `changed` (from the watcher's thread) when an entry is added, changed or removed, so
/// newly installed programs show up in the menu without restarting the shell.
pub fn watch(
    data_dirs: &[PathBuf],
    changed: impl Fn() + Send + 'static,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    use notify::Watcher;
    let mut watcher =
        notify::recommended_watcher(move |ev: notify::Result<notify::Event>| match ev {
            Ok(ev) if !ev.kind.is_access() => changed(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "applications watch"),
        })?;
    for dir in data_dirs.iter().map(|d| d.join("applications")) {
        if dir.is_dir() {
            watcher.watch(&dir, notify::RecursiveMode::Recursive)?;
        }
    }
    Ok(watcher)
}

/// The menu's sections: freedesktop main categories with readable names, in menu order.
const SECTIONS: &[(&str, &str)] = &[
    ("Accessories", "Utility"),
    ("Development", "Development"),
    ("Education", "Education"),
    ("Games", "Game"),
    ("Graphics", "Graphics"),
    ("Internet", "Network"),
    ("Multimedia", "AudioVideo"),
    ("Office", "Office"),
    ("Science", "Science"),
    ("Settings", "Settings"),
    ("System", "System"),
];

/// The section an entry belongs to (its first main category), or "Other".
pub fn section_of(entry: &DesktopEntry) -> &'static str {
    for cat in &entry.categories {
        let cat = match cat.as_str() {
            "Audio" | "Video" => "AudioVideo",
            "TerminalEmulator" => "System",
            other => other,
        };
        if let Some((label, _)) = SECTIONS.iter().find(|(_, c)| *c == cat) {
            return label;
        }
    }
    "Other"
}

fn section_rank(label: &str) -> usize {
    SECTIONS
        .iter()
        .position(|(l, _)| *l == label)
        .unwrap_or(SECTIONS.len())
}

/// One row of the start menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuRow {
    /// A section heading.
    Header(&'static str),
    /// An application, by index into the menu's entries.
    App(usize),
}

/// The start menu's applications and what its search box currently shows.
#[derive(Debug, Default)]
pub struct Menu {
    pub entries: Vec<DesktopEntry>,
    pub query: String,
}

impl Menu {
    /// The visible applications, sorted by section and then name.
    pub fn new(all: impl IntoIterator<Item = DesktopEntry>, path_var: &str) -> Self {
        let mut entries: Vec<_> = all
            .into_iter()
            .filter(|e| e.shown_in_menu(path_var))
            .collect();
        entries.sort_by(|a, b| {
            section_rank(section_of(a))
                .cmp(&section_rank(section_of(b)))
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        });
        Self {
            entries,
            query: String::new(),
        }
    }

    /// How well `entry` matches `query` (lower is better), or `None`: case-insensitive
    /// substring of the name (best when it starts the name), generic name, keywords or the
    /// program name.
    pub fn score(entry: &DesktopEntry, query: &str) -> Option<u8> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Some(0);
        }
        let name = entry.name.to_lowercase();
        if name.starts_with(&q) {
            return Some(0);
        }
        if name.contains(&q) {
            return Some(1);
        }
        if entry
            .generic_name
            .as_deref()
            .is_some_and(|g| g.to_lowercase().contains(&q))
        {
            return Some(2);
        }
        if entry.keywords.iter().any(|k| k.to_lowercase().contains(&q)) {
            return Some(3);
        }
        let program = entry
            .exec
            .as_deref()
            .and_then(|e| e.split_whitespace().next())
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_lowercase());
        if program.is_some_and(|p| p.contains(&q)) {
            return Some(4);
        }
        None
    }

    /// The rows to show: with no query, every app under its section heading; with a query,
    /// the matches, best first, without headings.
    pub fn rows(&self) -> Vec<MenuRow> {
        if self.query.trim().is_empty() {
            let mut rows = Vec::new();
            let mut last = None;
            for (i, e) in self.entries.iter().enumerate() {
                let section = section_of(e);
                if last != Some(section) {
                    rows.push(MenuRow::Header(section));
                    last = Some(section);
                }
                rows.push(MenuRow::App(i));
            }
            return rows;
        }
        let mut hits: Vec<(u8, usize)> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Self::score(e, &self.query).map(|s| (s, i)))
            .collect();
        hits.sort();
        hits.into_iter().map(|(_, i)| MenuRow::App(i)).collect()
    }

    /// The entry whose id, `StartupWMClass` or name matches a window's app_id.
    pub fn find_by_app_id<'a>(
        all: impl IntoIterator<Item = &'a DesktopEntry>,
        app_id: &str,
    ) -> Option<&'a DesktopEntry> {
        let want = app_id.to_lowercase();
        let want_file = format!("{want}.desktop");
        let mut suffix = None;
        let mut fallback = None;
        for e in all {
            let id = e.id.to_lowercase();
            if id == want_file {
                return Some(e);
            }
            if id.ends_with(&format!(".{want_file}")) {
                suffix = suffix.or(Some(e));
            }
            if e.startup_wm_class.as_deref().map(str::to_lowercase) == Some(want.clone())
                || e.icon.as_deref().map(str::to_lowercase) == Some(want.clone())
            {
                fallback = fallback.or(Some(e));
            }
        }
        suffix.or(fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, name: &str, extra: &str) -> DesktopEntry {
        let text = format!("[Desktop Entry]\nType=Application\nName={name}\nExec={id}\n{extra}");
        entry::parse(&text, &format!("{id}.desktop"), Path::new("/x"), "C")
    }

    fn menu() -> Menu {
        Menu::new(
            [
                app(
                    "foot",
                    "Foot",
                    "GenericName=Terminal\nCategories=System;TerminalEmulator;\nKeywords=shell;prompt;command;",
                ),
                app(
                    "chromium",
                    "Chromium",
                    "GenericName=Web Browser\nCategories=Network;WebBrowser;",
                ),
                app(
                    "gimp",
                    "GNU Image Manipulation Program",
                    "Categories=Graphics;2DGraphics;\nKeywords=photo;",
                ),
                app("hidden", "Hidden", "NoDisplay=true"),
                app("calc", "Calculator", "Categories=Utility;"),
                app("misc", "Zed", ""),
            ],
            "",
        )
    }

    fn names(m: &Menu) -> Vec<String> {
        m.rows()
            .into_iter()
            .map(|r| match r {
                MenuRow::Header(h) => format!("# {h}"),
                MenuRow::App(i) => m.entries[i].name.clone(),
            })
            .collect()
    }

    #[test]
    fn grouped_by_section_without_a_query() {
        assert_eq!(
            names(&menu()),
            [
                "# Accessories",
                "Calculator",
                "# Graphics",
                "GNU Image Manipulation Program",
                "# Internet",
                "Chromium",
                "# System",
                "Foot",
                "# Other",
                "Zed"
            ]
        );
    }

    #[test]
    fn search_is_case_insensitive_over_name_generic_name_and_keywords() {
        let mut m = menu();
        m.query = "CHROM".into();
        assert_eq!(names(&m), ["Chromium"]);
        m.query = "web brow".into();
        assert_eq!(names(&m), ["Chromium"]);
        m.query = "Photo".into();
        assert_eq!(names(&m), ["GNU Image Manipulation Program"]);
        m.query = "terminal".into();
        assert_eq!(names(&m), ["Foot"]);
        // A name prefix ranks above a substring elsewhere.
        m.query = "c".into();
        assert_eq!(names(&m)[..2], ["Calculator", "Chromium"]);
        m.query = "nothing-matches".into();
        assert!(names(&m).is_empty());
        m.query = "hidden".into();
        assert!(names(&m).is_empty(), "NoDisplay entries are never offered");
    }

    #[test]
    fn app_id_lookup() {
        let m = menu();
        let e = app("org.gnome.Calc", "Calc", "StartupWMClass=gnome-calculator");
        let all: Vec<_> = m.entries.iter().chain(std::iter::once(&e)).collect();
        assert_eq!(
            Menu::find_by_app_id(all.clone(), "foot").unwrap().name,
            "Foot"
        );
        assert_eq!(
            Menu::find_by_app_id(all.clone(), "Chromium").unwrap().name,
            "Chromium"
        );
        assert_eq!(
            Menu::find_by_app_id(all.clone(), "gnome-calculator")
                .unwrap()
                .name,
            "Calc"
        );
        // An exact id beats the reverse-DNS suffix match.
        assert_eq!(
            Menu::find_by_app_id(all.clone(), "Calc").unwrap().name,
            "Calculator"
        );
        assert_eq!(
            Menu::find_by_app_id(all.clone(), "org.gnome.calc")
                .unwrap()
                .name,
            "Calc"
        );
        assert!(Menu::find_by_app_id(all, "nope").is_none());
    }

    #[test]
    fn new_entries_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("applications")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let _w = watch(
            &[dir.path().to_path_buf(), dir.path().join("missing")],
            move || {
                let _ = tx.send(());
            },
        )
        .unwrap();
        std::fs::write(
            dir.path().join("applications/new.desktop"),
            "[Desktop Entry]\nType=Application\nName=New\nExec=new\n",
        )
        .unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .expect("no notification for a new desktop entry");
        assert_eq!(
            load_entries(&[dir.path().to_path_buf()], "C")["new.desktop"].name,
            "New"
        );
    }

    #[test]
    fn user_entries_mask_system_ones() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user");
        let sys = dir.path().join("sys");
        std::fs::create_dir_all(user.join("applications")).unwrap();
        std::fs::create_dir_all(sys.join("applications/kde")).unwrap();
        std::fs::write(
            user.join("applications/a.desktop"),
            "[Desktop Entry]\nType=Application\nName=Mine\nExec=a\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("applications/a.desktop"),
            "[Desktop Entry]\nType=Application\nName=System\nExec=a\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("applications/kde/b.desktop"),
            "[Desktop Entry]\nType=Application\nName=B\nExec=b\n",
        )
        .unwrap();
        let all = load_entries(&[user, sys], "C");
        assert_eq!(all["a.desktop"].name, "Mine");
        assert_eq!(all["kde-b.desktop"].name, "B");
    }
}
