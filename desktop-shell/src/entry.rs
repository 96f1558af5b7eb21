//! Desktop entries (`.desktop` files) as the XDG Desktop Entry Specification defines them.
//!
//! The menu, the taskbar's icons and the desktop icons all start from these files, so the
//! parser is strict about the parts that decide what runs (the `Exec` quoting and field
//! codes) and forgiving about everything else: a malformed line is skipped, never fatal,
//! because one broken file in `/usr/share/applications` must not empty the menu.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why an entry cannot be launched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("the entry has no Exec key")]
    Missing,
    #[error("unterminated quote in Exec")]
    UnterminatedQuote,
    #[error("Exec is empty after expanding field codes")]
    Empty,
    #[error("reserved character {0:?} outside quotes in Exec")]
    Reserved(char),
}

/// A parsed `[Desktop Entry]` group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesktopEntry {
    /// The desktop-file id (`org.foo.Bar.desktop` path relative to `applications/`,
    /// with `/` turned into `-`).
    pub id: String,
    /// Where the file was read from (`%k`).
    pub path: PathBuf,
    pub kind: String,
    pub name: String,
    pub generic_name: Option<String>,
    pub comment: Option<String>,
    pub keywords: Vec<String>,
    pub categories: Vec<String>,
    pub icon: Option<String>,
    pub exec: Option<String>,
    pub try_exec: Option<String>,
    pub working_dir: Option<String>,
    pub terminal: bool,
    pub no_display: bool,
    pub hidden: bool,
    pub startup_wm_class: Option<String>,
}

/// The locale variants to try for a localised key, most specific first, from a POSIX
/// locale name such as `de_DE.UTF-8@euro` (`lang_COUNTRY@MODIFIER`, `lang_COUNTRY`,
/// `lang@MODIFIER`, `lang`).
pub fn locale_candidates(locale: &str) -> Vec<String> {
    if locale.is_empty() || locale == "C" || locale == "POSIX" {
        return Vec::new();
    }
    let (rest, modifier) = match locale.split_once('@') {
        Some((r, m)) => (r, Some(m)),
        None => (locale, None),
    };
    let rest = rest.split_once('.').map_or(rest, |(r, _encoding)| r);
    let (lang, country) = match rest.split_once('_') {
        Some((l, c)) => (l, Some(c)),
        None => (rest, None),
    };
    let mut out = Vec::new();
    if let (Some(c), Some(m)) = (country, modifier) {
        out.push(format!("{lang}_{c}@{m}"));
    }
    if let Some(c) = country {
        out.push(format!("{lang}_{c}"));
    }
    if let Some(m) = modifier {
        out.push(format!("{lang}@{m}"));
    }
    out.push(lang.to_string());
    out
}

/// The locale the shell's user reads, from the usual environment variables.
pub fn current_locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// Undoes the string escapes of the spec (`\s`, `\n`, `\t`, `\r`, `\\`).
fn unescape_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            // `\;` belongs to list splitting; keep it for `split_list`.
            Some(';') => out.push_str("\\;"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a `;`-separated list value (with `\;` as a literal semicolon).
fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&';') => {
                cur.push(';');
                chars.next();
            }
            ';' => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn strip_list_escape(value: String) -> String {
    value.replace("\\;", ";")
}

fn parse_bool(v: &str) -> bool {
    v.trim() == "true"
}

/// Parses the text of a `.desktop` file, choosing localised values for `locale`.
pub fn parse(text: &str, id: &str, path: &Path, locale: &str) -> DesktopEntry {
    let mut in_main = false;
    // key -> (locale rank, value); rank 0 is the best localised match, usize::MAX the
    // unlocalised default.
    let mut values: HashMap<String, (usize, String)> = HashMap::new();
    let candidates = locale_candidates(locale);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_main = line == "[Desktop Entry]";
            continue;
        }
        if !in_main {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        let (base, rank) = match key.split_once('[') {
            Some((base, loc)) => {
                let loc = loc.trim_end_matches(']');
                match candidates.iter().position(|c| c == loc) {
                    Some(rank) => (base, rank),
                    None => continue,
                }
            }
            None => (key, usize::MAX),
        };
        // The first occurrence of the best-ranked variant wins.
        if values.get(base).is_none_or(|(seen, _)| rank < *seen) {
            values.insert(base.to_string(), (rank, value.to_string()));
        }
    }
    let get = |k: &str| values.get(k).map(|(_, v)| unescape_value(v));
    let get_str = |k: &str| get(k).map(strip_list_escape).filter(|v| !v.is_empty());
    let name = get_str("Name").unwrap_or_else(|| {
        id.trim_end_matches(".desktop")
            .rsplit('.')
            .next()
            .unwrap_or(id)
            .to_string()
    });
    DesktopEntry {
        id: id.to_string(),
        path: path.to_path_buf(),
        kind: get_str("Type").unwrap_or_default(),
        name,
        generic_name: get_str("GenericName"),
        comment: get_str("Comment"),
        keywords: get("Keywords").map(|v| split_list(&v)).unwrap_or_default(),
        categories: get("Categories")
            .map(|v| split_list(&v))
            .unwrap_or_default(),
        icon: get_str("Icon"),
        exec: get_str("Exec"),
        try_exec: get_str("TryExec"),
        working_dir: get_str("Path"),
        terminal: get("Terminal").is_some_and(|v| parse_bool(&v)),
        no_display: get("NoDisplay").is_some_and(|v| parse_bool(&v)),
        hidden: get("Hidden").is_some_and(|v| parse_bool(&v)),
        startup_wm_class: get_str("StartupWMClass"),
    }
}

/// Whether `program` names an executable file, directly or through `path` (a `PATH`-style
/// list).
pub fn program_exists(program: &str, path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_exec(Path::new(program));
    }
    std::env::split_paths(path).any(|dir| is_exec(&dir.join(program)))
}

impl DesktopEntry {
    /// Whether the menu lists the entry: an application, not hidden, and its `TryExec`
    /// program (if any) installed.
    pub fn shown_in_menu(&self, path_var: &str) -> bool {
        self.kind == "Application"
            && !self.no_display
            && !self.hidden
            && self.exec.is_some()
            && self
                .try_exec
                .as_deref()
                .is_none_or(|t| program_exists(t, path_var))
    }

    /// The command line to run, with field codes expanded for `files` (paths or URLs),
    /// wrapped in `terminal` when the entry asks for one.
    pub fn command_line(&self, files: &[String], terminal: &str) -> Result<Vec<String>, ExecError> {
        let exec = self.exec.as_deref().ok_or(ExecError::Missing)?;
        let mut argv = Vec::new();
        for arg in split_exec(exec)? {
            expand_arg(&arg, self, files, &mut argv);
        }
        if argv.is_empty() {
            return Err(ExecError::Empty);
        }
        if self.terminal {
            let mut wrapped = vec![terminal.to_string(), "--".to_string()];
            wrapped.append(&mut argv);
            return Ok(wrapped);
        }
        Ok(argv)
    }
}

/// One `Exec` argument after quote removal; `quoted` arguments never expand a field code
/// into several arguments.
#[derive(Debug, PartialEq)]
struct ExecArg {
    text: String,
    quoted: bool,
}

/// Splits an `Exec` value into arguments following the spec's quoting rules: arguments are
/// separated by spaces, double quotes group, and inside quotes `\"`, `` \` ``, `\$` and `\\`
/// stand for the character itself.
fn split_exec(exec: &str) -> Result<Vec<ExecArg>, ExecError> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_arg = false;
    let mut chars = exec.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut closed = false;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '`' | '$' | '\\')) => cur.push(e),
                            Some(e) => {
                                cur.push('\\');
                                cur.push(e);
                            }
                            None => return Err(ExecError::UnterminatedQuote),
                        },
                        other => cur.push(other),
                    }
                }
                if !closed {
                    return Err(ExecError::UnterminatedQuote);
                }
                quoted = true;
                in_arg = true;
            }
            ' ' | '\t' | '\n' => {
                if in_arg {
                    args.push(ExecArg {
                        text: std::mem::take(&mut cur),
                        quoted,
                    });
                }
                quoted = false;
                in_arg = false;
            }
            '\\' => {
                // Outside quotes the spec reserves these; accept a backslash escape as
                // the character, as common launchers do.
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
                in_arg = true;
            }
            '`' | '$' | '|' | '&' | ';' | '<' | '>' | '(' | ')' | '\'' => {
                return Err(ExecError::Reserved(c));
            }
            other => {
                cur.push(other);
                in_arg = true;
            }
        }
    }
    if in_arg {
        args.push(ExecArg { text: cur, quoted });
    }
    Ok(args)
}

/// Expands the field codes of one argument into zero or more arguments.
fn expand_arg(arg: &ExecArg, entry: &DesktopEntry, files: &[String], out: &mut Vec<String>) {
    // A lone list code expands to one argument per file.
    if !arg.quoted {
        match arg.text.as_str() {
            "%F" | "%U" => {
                out.extend(files.iter().cloned());
                return;
            }
            "%f" | "%u" => {
                out.extend(files.first().cloned());
                return;
            }
            "%i" => {
                if let Some(icon) = &entry.icon {
                    out.push("--icon".to_string());
                    out.push(icon.clone());
                }
                return;
            }
            // Deprecated codes are removed.
            "%d" | "%D" | "%n" | "%N" | "%v" | "%m" => return,
            _ => {}
        }
    }
    let mut text = String::new();
    let mut chars = arg.text.chars();
    let mut dropped_file_code = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => text.push('%'),
            Some('f' | 'u') => match files.first() {
                Some(f) => text.push_str(f),
                None => dropped_file_code = true,
            },
            Some('F' | 'U') => match files.is_empty() {
                false => text.push_str(&files.join(" ")),
                true => dropped_file_code = true,
            },
            Some('c') => text.push_str(&entry.name),
            Some('k') => text.push_str(&entry.path.to_string_lossy()),
            Some('i') => {
                if let Some(icon) = &entry.icon {
                    text.push_str(icon);
                }
            }
            // Unknown and deprecated codes vanish.
            Some(_) | None => {}
        }
    }
    if !(text.is_empty() && dropped_file_code) {
        out.push(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str, locale: &str) -> DesktopEntry {
        parse(text, "x.desktop", Path::new("/a/x.desktop"), locale)
    }

    const SAMPLE: &str = "\
# comment
[Desktop Entry]
Type=Application
Name=Files
Name[de]=Dateien
Name[de_CH]=Dateie
Name[fr]=Fichiers
GenericName=File Manager
Keywords=folder;browse;dir\\;ectory;
Categories=System;FileTools;
Icon=org.files
Exec=files --new-window %U
Terminal=false

[Desktop Action new]
Name=Should not win
Exec=other
";

    #[test]
    fn localised_name_falls_back_through_the_locale_chain() {
        assert_eq!(entry(SAMPLE, "de_CH.UTF-8").name, "Dateie");
        assert_eq!(entry(SAMPLE, "de_AT.UTF-8").name, "Dateien");
        assert_eq!(entry(SAMPLE, "fr_FR@euro").name, "Fichiers");
        assert_eq!(entry(SAMPLE, "ja_JP").name, "Files");
        assert_eq!(entry(SAMPLE, "C").name, "Files");
        assert_eq!(entry(SAMPLE, "").name, "Files");
    }

    #[test]
    fn locale_candidates_follow_the_spec_order() {
        assert_eq!(
            locale_candidates("sr_YU.UTF-8@Latn"),
            ["sr_YU@Latn", "sr_YU", "sr@Latn", "sr"]
        );
        assert_eq!(locale_candidates("de"), ["de"]);
    }

    #[test]
    fn lists_and_other_groups() {
        let e = entry(SAMPLE, "C");
        assert_eq!(e.keywords, ["folder", "browse", "dir;ectory"]);
        assert_eq!(e.categories, ["System", "FileTools"]);
        assert_eq!(e.exec.as_deref(), Some("files --new-window %U"));
        assert_eq!(e.generic_name.as_deref(), Some("File Manager"));
        assert!(!e.terminal);
    }

    #[test]
    fn field_codes_expand_and_vanish() {
        let e = entry(SAMPLE, "C");
        assert_eq!(
            e.command_line(&[], "foot").unwrap(),
            ["files", "--new-window"]
        );
        let files = ["/tmp/a b".to_string(), "/tmp/c".to_string()];
        assert_eq!(
            e.command_line(&files, "foot").unwrap(),
            ["files", "--new-window", "/tmp/a b", "/tmp/c"]
        );
        let e = entry(
            "[Desktop Entry]\nType=Application\nName=Ed\nIcon=ed\nExec=ed %f %i --title=%c --from=%k 100%% %d\n",
            "C",
        );
        assert_eq!(
            e.command_line(&["/x".to_string()], "foot").unwrap(),
            [
                "ed",
                "/x",
                "--icon",
                "ed",
                "--title=Ed",
                "--from=/a/x.desktop",
                "100%"
            ]
        );
        // Without files, %f disappears entirely rather than leaving an empty argument.
        assert_eq!(
            e.command_line(&[], "foot").unwrap(),
            [
                "ed",
                "--icon",
                "ed",
                "--title=Ed",
                "--from=/a/x.desktop",
                "100%"
            ]
        );
    }

    #[test]
    fn quoting_rules() {
        let e = entry(
            r#"[Desktop Entry]
Type=Application
Name=Q
Exec="/opt/my app/run" "say \"hi\" \$HOME \\\\ \`x\`" plain\sspace
"#,
            "C",
        );
        // The string-level `\\\\` becomes `\\`, which the Exec quoting turns into `\`.
        assert_eq!(
            e.command_line(&[], "foot").unwrap(),
            [
                "/opt/my app/run",
                "say \"hi\" $HOME \\ `x`",
                "plain",
                "space"
            ]
        );
        let bad = entry("[Desktop Entry]\nExec=\"open\n", "C");
        assert_eq!(
            bad.command_line(&[], "foot"),
            Err(ExecError::UnterminatedQuote)
        );
        let bad = entry("[Desktop Entry]\nExec=a | b\n", "C");
        assert_eq!(bad.command_line(&[], "foot"), Err(ExecError::Reserved('|')));
        let none = entry("[Desktop Entry]\nName=x\n", "C");
        assert_eq!(none.command_line(&[], "foot"), Err(ExecError::Missing));
    }

    #[test]
    fn terminal_entries_run_in_the_terminal() {
        let e = entry(
            "[Desktop Entry]\nType=Application\nName=Top\nExec=htop -d 5\nTerminal=true\n",
            "C",
        );
        assert!(e.terminal);
        assert_eq!(
            e.command_line(&[], "foot").unwrap(),
            ["foot", "--", "htop", "-d", "5"]
        );
    }

    #[test]
    fn visibility_rules() {
        let path = std::env::var("PATH").unwrap_or_default();
        let base = "[Desktop Entry]\nType=Application\nName=A\nExec=a\n";
        assert!(entry(base, "C").shown_in_menu(&path));
        assert!(!entry(&format!("{base}NoDisplay=true\n"), "C").shown_in_menu(&path));
        assert!(!entry(&format!("{base}Hidden=true\n"), "C").shown_in_menu(&path));
        assert!(
            !entry(&format!("{base}TryExec=skerry-no-such-program-xyz\n"), "C")
                .shown_in_menu(&path)
        );
        assert!(!entry(&format!("{base}TryExec=/nonexistent/bin/x\n"), "C").shown_in_menu(&path));
        assert!(entry(&format!("{base}TryExec=sh\n"), "C").shown_in_menu("/bin:/usr/bin"));
        assert!(!entry("[Desktop Entry]\nType=Link\nName=L\nURL=x\n", "C").shown_in_menu(&path));
    }
}
