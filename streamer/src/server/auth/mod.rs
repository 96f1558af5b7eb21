//! Authentication and roles. The owner logs in with a user name and password (Argon2id hash
//! in the configuration directory, or given in the environment); the owner can make share
//! links that grant the viewer or controller role until they expire or are revoked. Every
//! browser session is a signed cookie naming its source (the owner's password, or one
//! link), checked on every request by `server::access::authorize`, so revoking a link or
//! changing the password ends the sessions that came from it.
//!
//! Authentication is on by default whenever the port is reachable from elsewhere: a
//! non-loopback bind, or trusted reverse proxies in front (a proxy on the same machine makes
//! a loopback bind public). `SKERRY_AUTH=on|off` overrides the guess.

pub mod cookie;
pub mod ended;
pub mod limiter;
pub mod links;
pub mod net;
pub mod password;
pub mod token;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::proto::Role;
use crate::server::presence::Presence;
use ended::Ended;
use limiter::Limiter;
use links::{Link, Links};
use net::{BasePath, Cidr};
use token::Signer;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not in the expected format (remove it to start over)")]
    BadFile(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the system's random number generator failed")]
    Random,
    #[error(
        "too many share links (at most {}); revoke some first",
        links::MAX_LINKS
    )]
    TooManyLinks,
    #[error(
        "no directory to keep the password hash and keys in (set SKERRY_CONFIG_DIR, XDG_CONFIG_HOME or HOME)"
    )]
    NoDir,
}

impl AuthError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuthError::io(path, e))?;
    // A file that existed keeps its mode through open(): tighten it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| f.write_all(bytes))
        .map_err(|e| AuthError::io(path, e))
}

/// Replaces `path` whole with `bytes` (0600): written beside it, then renamed over it.
pub(crate) fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let tmp = path.with_extension("json.tmp");
    write_private(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| AuthError::io(path, e))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// On unless the port is only reachable from this machine.
    Auto,
    On,
    Off,
}

/// Owner sessions last this long.
pub const OWNER_SESSION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest a share link may live.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The security settings from the environment (docs/configuration.md).
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    pub auth: AuthMode,
    pub user: String,
    pub password: Option<String>,
    /// The configuration directory; the auth files live in its `auth/` folder.
    pub dir: Option<PathBuf>,
    pub max_failures: u32,
    pub lockout: Duration,
    pub base_path: BasePath,
    pub trusted_proxies: Vec<Cidr>,
    pub frame_ancestors: String,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            auth: AuthMode::Auto,
            user: "skerry".into(),
            password: None,
            dir: None,
            max_failures: 5,
            lockout: Duration::from_secs(300),
            base_path: BasePath::default(),
            trusted_proxies: Vec::new(),
            frame_ancestors: "'self'".into(),
        }
    }
}

/// The configuration directory: `SKERRY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/skerry`, else
/// `$HOME/.config/skerry`.
pub fn config_dir(get: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    get("SKERRY_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| get("XDG_CONFIG_HOME").map(|d| PathBuf::from(d).join("skerry")))
        .or_else(|| get("HOME").map(|d| PathBuf::from(d).join(".config/skerry")))
}

fn valid_frame_ancestors(s: &str) -> bool {
    let words: Vec<&str> = s.split_whitespace().collect();
    !words.is_empty()
        && words.iter().all(|w| {
            *w == "'self'"
                || *w == "'none'"
                || w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:/*".contains(&b))
        })
        && (!words.contains(&"'none'") || words.len() == 1)
}

impl SecurityConfig {
    /// Reads `SKERRY_AUTH`, the credentials, the lockout, base path, proxies and framing
    /// settings; every problem is reported.
    pub fn from_env(get: &impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut c = Self::default();
        match get("SKERRY_AUTH").as_deref().map(str::trim) {
            None | Some("auto") => {}
            Some("on" | "1" | "true" | "yes") => c.auth = AuthMode::On,
            Some("off" | "0" | "false" | "no") => c.auth = AuthMode::Off,
            Some(other) => errors.push(format!("SKERRY_AUTH={other:?}: expected auto, on or off")),
        }
        // linuxserver.io images call these CUSTOM_USER and PASSWORD.
        if let Some(user) = get("SKERRY_AUTH_USER").or_else(|| get("CUSTOM_USER")) {
            let ok = !user.is_empty()
                && user.len() <= 64
                && !user.chars().any(|ch| ch.is_control() || ch == ':');
            if ok {
                c.user = user;
            } else {
                errors.push(format!(
                    "SKERRY_AUTH_USER={user:?}: expected 1 to 64 characters, no control characters or ':'"
                ));
            }
        }
        if let Some(p) = get("SKERRY_AUTH_PASSWORD").or_else(|| get("PASSWORD")) {
            if p.is_empty() || p.len() > 1024 {
                errors.push("SKERRY_AUTH_PASSWORD: expected 1 to 1024 bytes".into());
            } else {
                c.password = Some(p);
            }
        }
        c.dir = config_dir(get);
        if let Some(v) = get("SKERRY_AUTH_MAX_FAILURES") {
            match v.trim().parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => c.max_failures = n,
                _ => errors.push(format!(
                    "SKERRY_AUTH_MAX_FAILURES={v:?}: expected 1 to 1000"
                )),
            }
        }
        if let Some(v) = get("SKERRY_AUTH_LOCKOUT") {
            match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && (1.0..=86_400.0).contains(&s) => {
                    c.lockout = Duration::from_secs_f64(s);
                }
                _ => errors.push(format!(
                    "SKERRY_AUTH_LOCKOUT={v:?}: expected seconds from 1 to 86400"
                )),
            }
        }
        if let Some(v) = get("SKERRY_BASE_PATH") {
            match BasePath::parse(&v) {
                Ok(b) => c.base_path = b,
                Err(e) => errors.push(e),
            }
        }
        if let Some(v) = get("SKERRY_TRUSTED_PROXIES") {
            match net::parse_cidrs(&v) {
                Ok(list) => c.trusted_proxies = list,
                Err(e) => errors.push(format!("SKERRY_TRUSTED_PROXIES={v:?}: {e}")),
            }
        }
        if let Some(v) = get("SKERRY_FRAME_ANCESTORS") {
            if valid_frame_ancestors(&v) {
                c.frame_ancestors = v.split_whitespace().collect::<Vec<_>>().join(" ");
            } else {
                errors.push(format!(
                    "SKERRY_FRAME_ANCESTORS={v:?}: expected 'self', 'none' or origins like https://portal.example, separated by spaces"
                ));
            }
        }
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(errors)
        }
    }

    /// Whether logins are required when listening on `bind`.
    pub fn auth_enabled(&self, bind: IpAddr) -> bool {
        match self.auth {
            AuthMode::On => true,
            AuthMode::Off => false,
            AuthMode::Auto => !bind.is_loopback() || !self.trusted_proxies.is_empty(),
        }
    }
}

/// The Content-Security-Policy: nothing from elsewhere, no inline code; the cursor image is
/// a `data:` URL and decoded frames may be `blob:`s.
pub fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors {frame_ancestors}"
    )
}

/// Who a browser session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub role: Role,
    /// Logged in with the owner's password (may manage share links).
    pub owner: bool,
    /// The share link it came from.
    pub link: Option<String>,
    pub identity: String,
    /// When it ends (unix seconds): the cookie's end, or its link's.
    pub expires: u64,
}

/// A new session: the cookie value and how long it lasts.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cookie: String,
    pub max_age: u64,
    pub session: Session,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    Wrong,
    Locked(Duration),
    /// [`MAX_VERIFYING`] passwords are being checked already: try again in a moment.
    Busy,
    Disabled,
}

/// Password checks (Argon2: tens of milliseconds of CPU and its memory each) running at
/// once, from every client together; more are answered "busy" instead of queued.
pub const MAX_VERIFYING: usize = 2;

/// One running password check; dropping it frees its place.
struct Verifying<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Verifying<'a> {
    fn take(count: &'a std::sync::atomic::AtomicUsize) -> Option<Self> {
        use std::sync::atomic::Ordering;
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_VERIFYING).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count))
    }
}

impl Drop for Verifying<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// What a first start produced, for the one log line the operator needs.
#[derive(Debug, Default)]
pub struct Started {
    /// A password generated now: shown once, stored only hashed.
    pub generated_password: Option<String>,
    /// Where the hash is kept (when the password is not from the environment).
    pub password_file: Option<PathBuf>,
}

struct Owner {
    user: String,
    hash: String,
    fingerprint: String,
    signer: Signer,
    links: Mutex<Links>,
    limiter: Mutex<Limiter>,
    verifying: std::sync::atomic::AtomicUsize,
    /// Passwords checked since start.
    checks: std::sync::atomic::AtomicU64,
    ended: Mutex<Ended>,
}

/// The security state every request consults.
pub struct Auth {
    pub base: BasePath,
    pub trusted_proxies: Vec<Cidr>,
    pub csp: String,
    /// The port speaks TLS (cookies are then `Secure`).
    pub tls: bool,
    pub presence: Arc<Presence>,
    owner: Option<Owner>,
}

impl Default for Auth {
    /// No logins: everyone who reaches the port is a controller.
    fn default() -> Self {
        Self {
            base: BasePath::default(),
            trusted_proxies: Vec::new(),
            csp: content_security_policy("'self'"),
            tls: false,
            presence: Arc::default(),
            owner: None,
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Controller => "controller",
        Role::Viewer => "viewer",
    }
}

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "controller" => Some(Role::Controller),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

impl Auth {
    /// The state for `config`; with `enabled`, loads or creates the password hash, the
    /// signing key and the share links in `<dir>/auth/`.
    pub fn start(
        config: &SecurityConfig,
        enabled: bool,
        tls: bool,
    ) -> Result<(Self, Started), AuthError> {
        let mut auth = Self {
            base: config.base_path.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            csp: content_security_policy(&config.frame_ancestors),
            tls,
            ..Self::default()
        };
        let mut started = Started::default();
        if !enabled {
            return Ok((auth, started));
        }
        let dir = config.dir.as_ref().ok_or(AuthError::NoDir)?.join("auth");
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| AuthError::io(&dir, e))?;
        }
        let initial = dir.join("initial-password");
        let hash = match &config.password {
            Some(p) => {
                // A generated password shown earlier no longer applies.
                let _ = std::fs::remove_file(&initial);
                password::hash(p)?
            }
            None => {
                let file = dir.join("password");
                started.password_file = Some(file.clone());
                match std::fs::read_to_string(&file) {
                    Ok(text) if password::is_valid_hash(text.trim()) => text.trim().to_owned(),
                    Ok(_) => return Err(AuthError::BadFile(file.display().to_string())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let clear = password::generate(20)?;
                        let hash = password::hash(&clear)?;
                        // Kept in clear too (0600, in the streamer's own folder), so the log
                        // is not its only copy.
                        write_private(&initial, format!("{clear}\n").as_bytes())?;
                        write_private(&file, format!("{hash}\n").as_bytes())?;
                        started.generated_password = Some(clear);
                        hash
                    }
                    Err(e) => return Err(AuthError::io(&file, e)),
                }
            }
        };
        auth.owner = Some(Owner {
            user: config.user.clone(),
            fingerprint: password::fingerprint(&hash),
            hash,
            signer: Signer::load_or_create(&dir.join("key"))?,
            links: Mutex::new(Links::load(dir.join("links.json"))?),
            limiter: Mutex::new(Limiter::new(config.max_failures, config.lockout)),
            verifying: Default::default(),
            checks: Default::default(),
            ended: Mutex::new(Ended::load(dir.join("ended.json"), unix_now())?),
        });
        Ok((auth, started))
    }

    /// Whether logins are required.
    pub fn enabled(&self) -> bool {
        self.owner.is_some()
    }

    /// The owner's user name, when logins are required.
    pub fn user(&self) -> Option<&str> {
        self.owner.as_ref().map(|o| o.user.as_str())
    }

    /// The session a cookie value stands for, if it is still valid at `now` (unix seconds).
    pub fn session(&self, cookie: &str, now: u64) -> Option<Session> {
        let o = self.owner.as_ref()?;
        let fields = o.signer.verify(cookie)?;
        // Cookies carry when they were issued last (older ones, without it, count as
        // issued at 0).
        let (fields, issued) = match fields.as_slice() {
            ["s", _, "o", _, _, iat] | ["s", _, "l", _, _, _, iat] => {
                (&fields[..fields.len() - 1], iat.parse::<u64>().ok()?)
            }
            _ => (&fields[..], 0),
        };
        let (sid, session) = match fields {
            ["s", sid, "o", fp, exp] => {
                let expires = exp.parse::<u64>().ok()?;
                if *fp != o.fingerprint || expires <= now {
                    return None;
                }
                let s = Session {
                    sid: (*sid).to_owned(),
                    role: Role::Controller,
                    owner: true,
                    link: None,
                    identity: o.user.clone(),
                    expires,
                };
                (*sid, s)
            }
            ["s", sid, "l", id, role, exp] => {
                let expires = exp.parse::<u64>().ok()?;
                if expires <= now {
                    return None;
                }
                let links = o.links.lock().ok()?;
                let link = links.get(id, now)?;
                if Some(link.role) != parse_role(role) {
                    return None;
                }
                let mut s = link_session(sid, link);
                s.expires = s.expires.min(expires);
                (*sid, s)
            }
            _ => return None,
        };
        if o.ended.lock().ok()?.has_ended(sid, issued) {
            return None;
        }
        Some(session)
    }

    /// Checks the owner's credentials for a client at `addr`. Slow on purpose (Argon2):
    /// call it off the async threads.
    pub fn login(
        &self,
        addr: IpAddr,
        user: &str,
        password: &str,
        now: Instant,
        unix: u64,
    ) -> Result<Issued, LoginError> {
        let o = self.owner.as_ref().ok_or(LoginError::Disabled)?;
        let user_ok = user == o.user;
        let limiter = || o.limiter.lock().unwrap_or_else(|e| e.into_inner());
        // The attempt takes its place before the slow check, so attempts sent together are
        // counted together.
        let attempt = limiter()
            .begin(addr, user_ok, now)
            .map_err(LoginError::Locked)?;
        let Some(_verifying) = Verifying::take(&o.verifying) else {
            // Not a guess: the attempt is handed back unjudged.
            limiter().unjudged(attempt);
            return Err(LoginError::Busy);
        };
        // Both checks always run, so the time taken does not tell a right user name.
        o.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let password_ok = password::verify(password, &o.hash);
        if !(password_ok && user_ok) {
            let locked = limiter().failure(attempt, now);
            return Err(locked.map_or(LoginError::Wrong, LoginError::Locked));
        }
        limiter().success(attempt);
        let sid = password::random_id(12).map_err(|_| LoginError::Disabled)?;
        let expires = unix + OWNER_SESSION.as_secs();
        let cookie = o.signer.sign(&[
            "s",
            &sid,
            "o",
            &o.fingerprint,
            &expires.to_string(),
            &unix.to_string(),
        ]);
        Ok(Issued {
            cookie,
            max_age: OWNER_SESSION.as_secs(),
            session: Session {
                sid,
                role: Role::Controller,
                owner: true,
                link: None,
                identity: o.user.clone(),
                expires,
            },
        })
    }

    /// How many passwords were checked since start (each attempt the limiter let through).
    pub fn password_checks(&self) -> u64 {
        self.owner
            .as_ref()
            .map_or(0, |o| o.checks.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Ends a session (logout) whose cookie runs until `expires`: the cookie stops working,
    /// also after a restart, and its connections close.
    pub fn end(&self, sid: &str, expires: u64) {
        if let Some(o) = &self.owner
            && let Ok(mut ended) = o.ended.lock()
            && let Err(e) = ended.end(sid, expires, unix_now())
        {
            tracing::warn!("recording a logout: {e}");
        }
        self.presence.kick(|m| m.sid.as_deref() == Some(sid));
    }

    /// A new share link granting `role` for `lifetime`.
    pub fn create_link(
        &self,
        role: Role,
        lifetime: Duration,
        label: &str,
        now: u64,
    ) -> Result<(Link, String), AuthError> {
        let o = self.owner.as_ref().ok_or(AuthError::NoDir)?;
        let lifetime = lifetime.min(MAX_LINK_LIFETIME).max(Duration::from_secs(60));
        let label: String = label.chars().filter(|c| !c.is_control()).take(64).collect();
        let link = Link {
            id: password::random_id(9)?,
            role,
            label: label.trim().to_owned(),
            created: now,
            expires: now + lifetime.as_secs(),
        };
        o.links
            .lock()
            .map_err(|_| AuthError::Random)?
            .add(link.clone(), now)?;
        let token = self.link_token(o, &link);
        Ok((link, token))
    }

    fn link_token(&self, o: &Owner, link: &Link) -> String {
        o.signer.sign(&[
            "l",
            &link.id,
            role_name(link.role),
            &link.expires.to_string(),
        ])
    }

    /// The live links with their tokens, newest first.
    pub fn links(&self, now: u64) -> Vec<(Link, String)> {
        let Some(o) = &self.owner else {
            return Vec::new();
        };
        let list = o.links.lock().map(|mut l| l.list(now)).unwrap_or_default();
        list.into_iter()
            .map(|l| {
                let t = self.link_token(o, &l);
                (l, t)
            })
            .collect()
    }

    /// Revokes a link: it stops working and every connection that came through it closes.
    pub fn revoke(&self, id: &str) -> Result<bool, AuthError> {
        let Some(o) = &self.owner else {
            return Ok(false);
        };
        let removed = o.links.lock().map_err(|_| AuthError::Random)?.remove(id)?;
        if removed {
            self.presence.kick(|m| m.link.as_deref() == Some(id));
        }
        Ok(removed)
    }

    /// The session a share link's token opens, if the link is live.
    pub fn open_link(&self, token: &str, now: u64) -> Option<Issued> {
        let o = self.owner.as_ref()?;
        let fields = o.signer.verify(token)?;
        let ["l", id, role, exp] = fields.as_slice() else {
            return None;
        };
        let role = parse_role(role)?;
        if exp.parse::<u64>().ok()? <= now {
            return None;
        }
        let link = o.links.lock().ok()?.get(id, now)?.clone();
        if link.role != role {
            return None;
        }
        let sid = password::random_id(12).ok()?;
        let cookie = o.signer.sign(&[
            "s",
            &sid,
            "l",
            &link.id,
            role_name(role),
            &link.expires.to_string(),
            &now.to_string(),
        ]);
        Some(Issued {
            cookie,
            max_age: link.expires - now,
            session: link_session(&sid, &link),
        })
    }
}

fn link_session(sid: &str, link: &Link) -> Session {
    let name = if link.label.is_empty() {
        "share link"
    } else {
        link.label.as_str()
    };
    Session {
        sid: sid.to_owned(),
        role: link.role,
        owner: false,
        link: Some(link.id.clone()),
        identity: format!("{name} #{}", &sid[..sid.len().min(4)]),
        expires: link.expires,
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
