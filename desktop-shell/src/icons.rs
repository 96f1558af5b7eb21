//! Finding application icons in the icon themes (hicolor, Adwaita) and pixmaps.
//!
//! Only the lookup lives here; drawing (and the generated letter icon for apps without a
//! usable image) is the renderer's job. PNG images are used directly; the largest size at
//! or above what is asked is preferred so icons stay crisp at scale 2.

use std::path::{Path, PathBuf};

const THEMES: &[&str] = &["hicolor", "Adwaita"];
const SIZES: &[u32] = &[16, 22, 24, 32, 48, 64, 96, 128, 256, 512];

/// The icon file for `name` (an icon name or an absolute path) at about `px` buffer pixels,
/// searching `data_dirs` (`<dir>/icons/<theme>/<size>x<size>/apps/<name>.png`, then
/// `<dir>/pixmaps`). Only formats the renderer can read (PNG) are returned.
pub fn find_icon(name: &str, px: u32, data_dirs: &[PathBuf]) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = Path::new(name);
        return (p.extension().is_some_and(|e| e == "png") && p.is_file()).then(|| p.to_path_buf());
    }
    // Sizes from the smallest one that is big enough upwards, then the smaller ones
    // downwards.
    let mut order: Vec<u32> = SIZES.iter().copied().filter(|&s| s >= px).collect();
    order.extend(SIZES.iter().rev().copied().filter(|&s| s < px));
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join(".icons"));
    }
    roots.extend(data_dirs.iter().map(|d| d.join("icons")));
    for theme in THEMES {
        for size in &order {
            for root in &roots {
                for sub in ["apps", "places", "mimetypes", "legacy"] {
                    let p = root
                        .join(theme)
                        .join(format!("{size}x{size}"))
                        .join(sub)
                        .join(format!("{name}.png"));
                    if p.is_file() {
                        return Some(p);
                    }
                }
            }
        }
    }
    data_dirs
        .iter()
        .map(|d| d.join("pixmaps").join(format!("{name}.png")))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_smallest_size_that_is_big_enough() {
        let dir = tempfile::tempdir().unwrap();
        for size in [16, 48, 128] {
            let d = dir.path().join(format!("icons/hicolor/{size}x{size}/apps"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("app.png"), b"png").unwrap();
        }
        let dirs = [dir.path().to_path_buf()];
        let found = |px| find_icon("app", px, &dirs).unwrap();
        assert!(found(32).ends_with("48x48/apps/app.png"));
        assert!(found(96).ends_with("128x128/apps/app.png"));
        assert!(found(300).ends_with("128x128/apps/app.png"));
        assert!(find_icon("other", 32, &dirs).is_none());
        let pix = dir.path().join("pixmaps");
        std::fs::create_dir_all(&pix).unwrap();
        std::fs::write(pix.join("other.png"), b"png").unwrap();
        assert!(
            find_icon("other", 32, &dirs)
                .unwrap()
                .ends_with("pixmaps/other.png")
        );
        assert!(find_icon("/nonexistent.png", 32, &dirs).is_none());
        assert!(find_icon(&pix.join("other.png").to_string_lossy(), 32, &dirs).is_some());
    }
}
