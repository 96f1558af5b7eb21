use super::*;

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn config(dir: &Path, extra: &[(&str, &str)]) -> SecurityConfig {
    let d = dir.display().to_string();
    let mut pairs = vec![("SKERRY_CONFIG_DIR", d.as_str())];
    pairs.extend_from_slice(extra);
    SecurityConfig::from_env(&env(&pairs)).expect("valid")
}

#[test]
fn settings_parse_and_every_error_is_reported() {
    let c = SecurityConfig::from_env(&env(&[("HOME", "/home/u")])).expect("defaults");
    assert_eq!(c.auth, AuthMode::Auto);
    assert_eq!(c.user, "skerry");
    assert_eq!(c.dir, Some(PathBuf::from("/home/u/.config/skerry")));
    let lo: IpAddr = "127.0.0.1".parse().expect("ip");
    let any: IpAddr = "0.0.0.0".parse().expect("ip");
    assert!(!c.auth_enabled(lo), "loopback: off by default");
    assert!(c.auth_enabled(any), "reachable from elsewhere: on");
    let proxied =
        SecurityConfig::from_env(&env(&[("SKERRY_TRUSTED_PROXIES", "127.0.0.1")])).expect("valid");
    assert!(
        proxied.auth_enabled(lo),
        "a proxy in front makes loopback public"
    );
    let forced = SecurityConfig::from_env(&env(&[("SKERRY_AUTH", "on")])).expect("valid");
    assert!(forced.auth_enabled(lo));
    let off = SecurityConfig::from_env(&env(&[("SKERRY_AUTH", "off")])).expect("valid");
    assert!(!off.auth_enabled(any));
    // The names linuxserver.io images use work too.
    let lsio = SecurityConfig::from_env(&env(&[("CUSTOM_USER", "abc"), ("PASSWORD", "pw")]))
        .expect("valid");
    assert_eq!(lsio.user, "abc");
    assert_eq!(lsio.password.as_deref(), Some("pw"));
    let framed = SecurityConfig::from_env(&env(&[(
        "SKERRY_FRAME_ANCESTORS",
        "'self'  https://portal.example",
    )]))
    .expect("valid");
    assert!(
        content_security_policy(&framed.frame_ancestors)
            .ends_with("frame-ancestors 'self' https://portal.example")
    );

    let errors = SecurityConfig::from_env(&env(&[
        ("SKERRY_AUTH", "maybe"),
        ("SKERRY_AUTH_USER", "a:b"),
        ("SKERRY_AUTH_MAX_FAILURES", "0"),
        ("SKERRY_AUTH_LOCKOUT", "forever"),
        ("SKERRY_BASE_PATH", "/a b/"),
        ("SKERRY_TRUSTED_PROXIES", "10.0.0.0/99"),
        ("SKERRY_FRAME_ANCESTORS", "'self'; script-src *"),
    ]))
    .expect_err("invalid");
    assert_eq!(errors.len(), 7, "{errors:?}");
}

#[test]
fn a_generated_password_is_shown_once_and_stored_hashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path(), &[]);
    let (auth, started) = Auth::start(&c, true, true).expect("start");
    let clear = started
        .generated_password
        .expect("generated on first start");
    let file = dir.path().join("auth/password");
    assert_eq!(started.password_file.as_deref(), Some(file.as_path()));
    let stored = std::fs::read_to_string(&file).expect("stored");
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&clear));
    let mode = std::fs::metadata(&file).expect("file").permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
    // The log is not the only copy: the clear password is kept, 0600, beside the hash.
    let initial = dir.path().join("auth/initial-password");
    assert_eq!(
        std::fs::read_to_string(&initial).expect("initial-password"),
        format!("{clear}\n")
    );
    let mode = std::fs::metadata(&initial).expect("file").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let addr: IpAddr = "192.0.2.1".parse().expect("ip");
    let issued = auth
        .login(addr, "skerry", &clear, Instant::now(), 1000)
        .expect("the shown password logs in");
    assert!(issued.session.owner);
    assert_eq!(issued.max_age, OWNER_SESSION.as_secs());

    // The next start keeps it and shows nothing; the earlier session still holds.
    let (again, started) = Auth::start(&c, true, true).expect("restart");
    assert!(started.generated_password.is_none());
    let s = again
        .session(&issued.cookie, 1001)
        .expect("valid after restart");
    assert_eq!(s.role, Role::Controller);
    assert_eq!(s.identity, "skerry");
    assert!(
        again
            .session(&issued.cookie, 1000 + OWNER_SESSION.as_secs())
            .is_none(),
        "expired"
    );

    // A new password (from the environment) ends sessions made with the old one.
    let changed = config(dir.path(), &[("SKERRY_AUTH_PASSWORD", "new secret")]);
    let (changed, _) = Auth::start(&changed, true, true).expect("start");
    assert!(changed.session(&issued.cookie, 1001).is_none());
    assert!(
        !initial.exists(),
        "the generated password no longer applies"
    );
}

#[test]
fn wrong_passwords_lock_the_address_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(
        dir.path(),
        &[
            ("SKERRY_AUTH_PASSWORD", "pw"),
            ("SKERRY_AUTH_MAX_FAILURES", "2"),
        ],
    );
    let (auth, _) = Auth::start(&c, true, false).expect("start");
    let a: IpAddr = "192.0.2.1".parse().expect("ip");
    let t0 = Instant::now();
    assert_eq!(
        auth.login(a, "skerry", "x", t0, 1).err(),
        Some(LoginError::Wrong)
    );
    // The second wrong try (a wrong user counts too) reaches the limit.
    assert_eq!(
        auth.login(a, "nobody", "pw", t0, 1).err(),
        Some(LoginError::Locked(Duration::from_secs(300)))
    );
    // Locked now, even with the right password.
    assert!(matches!(
        auth.login(a, "skerry", "pw", t0 + Duration::from_secs(1), 1),
        Err(LoginError::Locked(d)) if d == Duration::from_secs(299)
    ));
    let b: IpAddr = "192.0.2.2".parse().expect("ip");
    assert!(
        auth.login(b, "skerry", "pw", t0, 1).is_ok(),
        "others are not locked"
    );
    assert!(
        auth.login(a, "skerry", "pw", t0 + Duration::from_secs(301), 1)
            .is_ok()
    );
}

#[test]
fn share_links_grant_their_role_until_revoked_or_expired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path(), &[("SKERRY_AUTH_PASSWORD", "pw")]);
    let (auth, _) = Auth::start(&c, true, true).expect("start");
    let now = 10_000;
    let (link, token) = auth
        .create_link(Role::Viewer, Duration::from_secs(3600), "guest\n", now)
        .expect("link");
    assert_eq!(link.label, "guest");
    assert_eq!(link.expires, now + 3600);
    let issued = auth.open_link(&token, now + 1).expect("opens");
    assert_eq!(issued.session.role, Role::Viewer);
    assert!(!issued.session.owner);
    assert_eq!(issued.max_age, 3599);
    assert!(issued.session.identity.starts_with("guest #"));
    let s = auth.session(&issued.cookie, now + 2).expect("session");
    assert_eq!(s.link.as_deref(), Some(link.id.as_str()));
    // A token with its role changed is not signed.
    assert!(
        auth.open_link(&token.replace("viewer", "controller"), now)
            .is_none()
    );
    // A session cookie is not a link token, nor the other way round.
    assert!(auth.open_link(&issued.cookie, now).is_none());
    assert!(auth.session(&token, now).is_none());
    // Listed with a working token; gone once expired.
    let listed = auth.links(now + 3);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].1, token);
    assert!(auth.open_link(&token, now + 3600).is_none());
    assert!(auth.session(&issued.cookie, now + 3600).is_none());
    // Revoked: the link and its sessions stop working.
    assert!(auth.revoke(&link.id).expect("revoke"));
    assert!(auth.open_link(&token, now + 5).is_none());
    assert!(auth.session(&issued.cookie, now + 5).is_none());
    assert!(!auth.revoke(&link.id).expect("already gone"));
}

#[test]
fn logging_out_ends_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path(), &[("SKERRY_AUTH_PASSWORD", "pw")]);
    let (auth, _) = Auth::start(&c, true, true).expect("start");
    let a: IpAddr = "192.0.2.1".parse().expect("ip");
    let issued = auth
        .login(a, "skerry", "pw", Instant::now(), 5)
        .expect("login");
    assert!(auth.session(&issued.cookie, 6).is_some());
    auth.end(&issued.session.sid, issued.session.expires);
    assert!(auth.session(&issued.cookie, 6).is_none());
    // A restart does not bring it back.
    drop(auth);
    let (auth, _) = Auth::start(&c, true, true).expect("restart");
    assert!(auth.session(&issued.cookie, 6).is_none());
    let other = auth
        .login(a, "skerry", "pw", Instant::now(), 7)
        .expect("login");
    assert!(auth.session(&other.cookie, 8).is_some());
}

#[test]
fn without_auth_nothing_is_a_session_and_no_file_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path(), &[]);
    let (auth, started) = Auth::start(&c, false, true).expect("start");
    assert!(!auth.enabled());
    assert!(started.generated_password.is_none());
    assert!(!dir.path().join("auth").exists());
    assert!(auth.session("s.a.o.b.1.00", 0).is_none());
}

#[test]
fn guesses_sent_together_are_judged_no_more_often_than_one_by_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(
        dir.path(),
        &[
            ("SKERRY_AUTH_PASSWORD", "pw"),
            ("SKERRY_AUTH_MAX_FAILURES", "3"),
        ],
    );
    let (auth, _) = Auth::start(&c, true, false).expect("start");
    let auth = std::sync::Arc::new(auth);
    let a: IpAddr = "192.0.2.1".parse().expect("ip");
    let start = std::sync::Arc::new(std::sync::Barrier::new(40));
    let t0 = Instant::now();
    let results: Vec<LoginError> = (0..40)
        .map(|i| {
            let (auth, start) = (auth.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                auth.login(a, "skerry", &format!("guess{i}"), t0, 1)
                    .expect_err("every guess is wrong")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    // Never more than three passwords judged, however many arrived at once.
    assert!(
        auth.password_checks() <= 3,
        "{} checks: {results:?}",
        auth.password_checks()
    );
    let wrong = results.iter().filter(|r| **r == LoginError::Wrong).count();
    assert!(wrong <= 2, "{results:?}");
    assert!(
        results.iter().all(|r| matches!(
            r,
            LoginError::Wrong | LoginError::Locked(_) | LoginError::Busy
        )),
        "{results:?}"
    );
    // One by one afterwards, the total stays the same.
    for _ in 0..3 {
        let _ = auth.login(a, "skerry", "again", t0, 1);
    }
    assert!(
        auth.password_checks() <= 3,
        "{} checks",
        auth.password_checks()
    );
    assert!(matches!(
        auth.login(a, "skerry", "pw", t0, 1),
        Err(LoginError::Locked(_))
    ));
}

#[test]
fn password_checks_at_once_are_bounded() {
    let n = std::sync::atomic::AtomicUsize::new(0);
    let held: Vec<_> = (0..MAX_VERIFYING)
        .map(|_| Verifying::take(&n).expect("a place"))
        .collect();
    assert!(Verifying::take(&n).is_none());
    drop(held);
    assert!(Verifying::take(&n).is_some());
}
