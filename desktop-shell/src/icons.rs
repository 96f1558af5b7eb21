//! Finding application icons in the icon themes (hicolor, Adwaita) and pixmaps.
//!
//! Only the lookup lives here; drawing (and the generated letter icon for apps without a
//! usable image) is the renderer's job. A PNG at or above the size asked is preferred (the
//! smallest such, so icons stay crisp at scale 2 without wasted work); else the theme's
//! scalable SVG, rasterised at exactly the size needed; else a smaller PNG, magnified.
//! Many applications (and whole themes) ship only an SVG.

use std::path::{Path, PathBuf};

const THEMES: &[&str] = &["hicolor", "Adwaita"];
const SIZES: &[u32] = &[16, 22, 24, 32, 48, 64, 96, 128, 256, 512];
const CONTEXTS: &[&str] = &["apps", "places", "mimetypes", "legacy"];

/// The icon file for `name` (an icon name or an absolute path) at about `px` buffer pixels,
/// searching `data_dirs` (`<dir>/icons/<theme>/<size>x<size>/<context>/<name>.png`, then
/// `<dir>/icons/<theme>/scalable/<context>/<name>.svg`, then `<dir>/pixmaps`). Only formats
/// the renderer can read (PNG, SVG) are returned.
pub fn find_icon(name: &str, px: u32, data_dirs: &[PathBuf]) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = Path::new(name);
        let readable = p
            .extension()
            .is_some_and(|e| e == "png" || e == "svg" || e == "svgz");
        return (readable && p.is_file()).then(|| p.to_path_buf());
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join(".icons"));
    }
    roots.extend(data_dirs.iter().map(|d| d.join("icons")));
    let find = |dir: &str, file: &str| {
        THEMES.iter().find_map(|theme| {
            roots.iter().find_map(|root| {
                CONTEXTS
                    .iter()
                    .map(|sub| root.join(theme).join(dir).join(sub).join(file))
                    .find(|p| p.is_file())
            })
        })
    };
    let png = format!("{name}.png");
    let fixed = |size: &u32| find(&format!("{size}x{size}"), &png);
    SIZES
        .iter()
        .filter(|&&s| s >= px)
        .find_map(fixed)
        .or_else(|| find("scalable", &format!("{name}.svg")))
        .or_else(|| SIZES.iter().rev().filter(|&&s| s < px).find_map(fixed))
        .or_else(|| {
            data_dirs.iter().find_map(|d| {
                ["png", "svg"]
                    .iter()
                    .map(|ext| d.join("pixmaps").join(format!("{name}.{ext}")))
                    .find(|p| p.is_file())
            })
        })
}

/// Whether a found icon is an SVG (to be rasterised) rather than a PNG.
pub fn is_svg(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "svg" || e == "svgz")
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
        // An SVG-only icon is found in the scalable folder; a big-enough PNG still wins, a
        // too-small one does not.
        let svg = dir.path().join("icons/hicolor/scalable/apps");
        std::fs::create_dir_all(&svg).unwrap();
        std::fs::write(svg.join("vector.svg"), b"<svg/>").unwrap();
        std::fs::write(svg.join("app.svg"), b"<svg/>").unwrap();
        let vector = find_icon("vector", 64, &dirs).unwrap();
        assert!(vector.ends_with("scalable/apps/vector.svg") && is_svg(&vector));
        assert!(found(96).ends_with("128x128/apps/app.png"));
        assert!(found(300).ends_with("scalable/apps/app.svg"));
        assert!(find_icon(&pix.join("other.png").to_string_lossy(), 32, &dirs).is_some());
    }
}
